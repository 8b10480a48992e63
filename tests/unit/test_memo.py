"""What the sidecar knows per ticket, and the rules that let it skip a call (sidecar.tasks.memo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from sidecar.domain.models import Ticket
from sidecar.tasks.memo import (
    PER_TICKET_WINDOW_SECONDS,
    Seen,
    TicketMemory,
    already_seen,
    parse_version,
)
from sidecar.tasks.reconcile import _known_first_response

BASE = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def minute_stamp(moment: datetime) -> str:
    """What `{{ticket.updated_at_with_timestamp}}` renders: minutes only."""
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def second_stamp(moment: datetime) -> str:
    """What the REST API and event payloads show: seconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_versions_parse_with_their_precision() -> None:
    """A placeholder stamp is minute-precise, an API stamp second-precise."""
    assert parse_version("2026-11-27T15:04Z") == (
        datetime(2026, 11, 27, 15, 4, tzinfo=UTC),
        timedelta(minutes=1),
    )
    assert parse_version("2026-11-27T15:04:05Z") == (
        datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC),
        timedelta(seconds=1),
    )
    assert parse_version("") is None
    assert parse_version("yesterday") is None


@given(
    change=st.integers(min_value=0, max_value=7200),
    seen=st.integers(min_value=0, max_value=7200),
    minute=st.booleans(),
)
@example(change=30, seen=59, minute=True)  # same minute, later second: unproven
@example(change=59, seen=60, minute=True)  # change's minute ends at the version
@example(change=60, seen=60, minute=False)  # equal API stamps prove nothing
def test_a_change_is_skipped_only_when_it_provably_happened_before_the_known_version(
    change: int, seen: int, minute: bool
) -> None:
    """Skip iff every instant the stamp can stand for lies before the version we know."""
    changed_at = BASE + timedelta(seconds=change)
    stamp = minute_stamp(changed_at) if minute else second_stamp(changed_at)
    known = Seen(version=second_stamp(BASE + timedelta(seconds=seen)))
    skipped = already_seen(stamp, known)
    rendered = parse_version(stamp)
    assert rendered is not None
    latest_possible = rendered[0] + rendered[1]  # the change happened before this
    assert skipped == (latest_possible <= BASE + timedelta(seconds=seen))
    if skipped:
        assert changed_at < BASE + timedelta(seconds=seen)
    assert not already_seen(stamp, None)
    assert not already_seen(None, known)


def ticket(*, version: str, comments: int | None) -> Ticket:
    return Ticket(
        id=1,
        subject="",
        status="open",
        created_at=BASE,
        updated_stamp=version,
        organization_id=None,
        requester_id=5,
        tags=frozenset(),
        custom_fields={},
        comment_count=comments,
    )


def test_the_first_response_is_known_without_reading_only_when_provable() -> None:
    """Description only, the very version we knew, or no new comment since a look that found none."""
    v1, v2 = "2026-11-27T15:00:01Z", "2026-11-27T15:00:09Z"
    answered = Seen(version=v1, comment_count=2, first_response_at=BASE.isoformat())
    unanswered = Seen(version=v1, comment_count=2)
    assert _known_first_response(ticket(version=v2, comments=1), None) == ((None,), 1)
    assert _known_first_response(ticket(version=v1, comments=2), answered) == (
        (BASE,),
        2,
    )
    assert _known_first_response(ticket(version=v2, comments=2), unanswered) == (
        (None,),
        2,
    )
    # A new comment, an unknown count, a look that never checked: read.
    assert _known_first_response(ticket(version=v2, comments=3), unanswered) == (
        None,
        None,
    )
    assert _known_first_response(ticket(version=v2, comments=None), unanswered) == (
        None,
        None,
    )
    assert _known_first_response(ticket(version=v2, comments=2), Seen(version=v1)) == (
        None,
        None,
    )
    # An answered ticket changed since: the comment made private could be the answer.
    assert _known_first_response(ticket(version=v2, comments=2), answered) == (
        None,
        None,
    )


def test_our_writes_per_ticket_are_kept_to_zendesks_limit() -> None:
    """30 writes of ours in 10 minutes: the 31st waits until the oldest leaves the window."""
    now = 10_000.0
    writes = tuple(now - 300 + i for i in range(30))
    seen = Seen(version="v", writes=writes)
    assert (
        TicketMemory.write_wait(seen, now=now)
        == writes[0] + PER_TICKET_WINDOW_SECONDS - now
    )
    assert TicketMemory.write_wait(Seen(version="v", writes=writes[1:]), now=now) == 0
    assert len(TicketMemory.with_write(seen, now=now)) == 30


class _Store:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_memo(self, key: str) -> str | None:
        return self.values.get(key)

    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
        self.values[key] = value


def test_memory_round_trips_and_survives_a_bad_record() -> None:
    """A record read back equals the one stored; a corrupt one only costs a read."""
    store = _Store()
    memory = TicketMemory(store, account="acme")
    seen = Seen(
        version="2026-11-27T15:00:01Z", comment_count=3, own=True, writes=(1.0,)
    )
    memory.remember(7, seen)
    assert memory.recall(7) == seen
    store.values["seen:acme:7"] = "{not json"
    assert memory.recall(7) is None
    memory.set_own_user_id(42)
    assert memory.own_user_id() == 42


def test_organization_entitlement_is_known_only_once_a_reconcile_noted_it() -> None:
    """The receiver's lane hint: None until noted, then what was noted, per account."""
    store = _Store()
    memory = TicketMemory(store, account="acme")
    assert memory.org_entitled(5) is None
    memory.remember_org(5, entitled=False)
    memory.remember_org(6, entitled=True)
    assert (memory.org_entitled(5), memory.org_entitled(6)) == (False, True)
    assert TicketMemory(store, account="other").org_entitled(5) is None


def test_an_unreadable_store_means_not_known() -> None:
    """A store that fails answers None (the receiver then uses the urgent lane)."""

    class Broken:
        def get_memo(self, key: str) -> str | None:
            raise OSError("down")

        def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
            raise OSError("down")

    memory = TicketMemory(Broken(), account="acme")
    memory.remember_org(5, entitled=False)  # best effort: no error
    assert memory.org_entitled(5) is None


def test_a_hint_as_job_arguments_carries_every_field_that_is_set() -> None:
    """as_kwargs names each field (no asdict on the webhook's path): none may be left out."""
    from dataclasses import fields

    from sidecar.tasks.memo import Hint

    full = Hint(actor_id=1, version="v", severity=2, organization_id=3)
    assert full.as_kwargs() == {f.name: getattr(full, f.name) for f in fields(Hint)}
    assert Hint(version="v").as_kwargs() == {"version": "v"}
    assert Hint().as_kwargs() == {}
