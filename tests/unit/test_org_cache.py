"""Tests for sidecar.tasks.orgs.OrgCache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sidecar.domain.models import Organization
from sidecar.errors import NotFound
from sidecar.tasks.orgs import OrgCache

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Harness:
    def __init__(self) -> None:
        self.now = T0
        self.fetches: list[int] = []
        self.changed: dict[int, datetime] = {}
        self.missing: set[int] = set()
        self.cache = OrgCache(
            fetch=self.fetch,
            ttl=timedelta(minutes=5),
            changed_at=self.changed.get,
            clock=lambda: self.now,
        )

    def fetch(self, org_id: int) -> Organization:
        self.fetches.append(org_id)
        if org_id in self.missing:
            raise NotFound("gone", service="zendesk", status=404)
        return Organization(
            id=org_id, name=f"org {len(self.fetches)}", external_id=None, fields={}
        )


def test_reads_are_reused_within_ttl() -> None:
    """A second read within the TTL makes no API call."""
    h = Harness()
    first = h.cache.get(7)
    h.now += timedelta(minutes=4)
    assert h.cache.get(7) is first
    assert h.fetches == [7]


def test_reads_expire_after_ttl() -> None:
    """After the TTL the organization is read again."""
    h = Harness()
    h.cache.get(7)
    h.now += timedelta(minutes=5)
    h.cache.get(7)
    assert h.fetches == [7, 7]


def test_organization_event_drops_the_entry() -> None:
    """An organization event after the read forces a fresh read at once."""
    h = Harness()
    h.cache.get(7)
    h.changed[7] = T0 + timedelta(seconds=1)
    h.now += timedelta(seconds=2)
    assert h.cache.get(7).name == "org 2"
    h.now += timedelta(seconds=2)
    h.cache.get(7)
    assert h.fetches == [7, 7]


def test_missing_organization_is_none_and_cached() -> None:
    """An organization Zendesk no longer has reads as None, and that answer is cached too."""
    h = Harness()
    h.missing.add(9)
    assert h.cache.get(9) is None
    assert h.cache.get(9) is None
    assert h.fetches == [9]


def test_forget_drops_one_entry() -> None:
    """forget() makes the next read go to Zendesk."""
    h = Harness()
    h.cache.get(7)
    h.cache.forget(7)
    h.cache.get(7)
    assert h.fetches == [7, 7]
