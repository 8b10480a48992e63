"""Every event PagerDutyPager can send, checked against the Events API v2 documentation.

The real pager (official ``pagerduty`` client, httpx2) is given a recording
``httpx2.MockTransport``; each captured request must be a POST of JSON to
https://events.pagerduty.com/v2/enqueue, at most 512 KB, validating against the
closed schema in tests/contract/pagerduty_events.py. A new public pager method
without a case fails ``test_every_public_method_has_a_contract_case``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.config import Config, Secret
from sidecar.oncall.pagerduty import SEVERITIES, PagerDutyPager, dedup_key, summary
from tests.contract.checker import Captured, pagerduty_violations

KEY = "R0UTINGKEY000000000000000000DEFA"  # 32 characters, as PagerDuty issues them
ORG_KEY = "ORGR0UT1NGKEY0000000000000000042"


class Recorder:
    """An httpx2 transport that records each request and answers 202 as PagerDuty does."""

    def __init__(self) -> None:
        self.captured: list[Captured] = []
        self.transport = httpx2.MockTransport(self._answer)

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        self.captured.append(
            Captured(
                method=request.method,
                url=str(request.url),
                headers=dict(request.headers),
                body=request.read(),
            )
        )
        # "Send an Alert Event" response: 202 {"status", "message", "dedup_key"}.
        return httpx2.Response(
            202,
            json={"status": "success", "message": "Event processed", "dedup_key": "k"},
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def pager(recorder: Recorder) -> Iterator[PagerDutyPager]:
    p = PagerDutyPager(routing_key=Secret(KEY), transport=recorder.transport)
    yield p
    p.close()


def assert_on_contract(captured: list[Captured]) -> None:
    problems = [p for r in captured for p in pagerduty_violations(r)]
    assert not problems, (
        "\n".join(problems) + "\n" + "\n".join(repr(r.body) for r in captured)
    )


TICKET_URL = "https://acme.zendesk.com/agent/tickets/7"


def trigger_kwargs(**changes: Any) -> dict[str, Any]:
    """A trigger as sidecar/tasks/reconcile.py's escalate builds it."""
    return {
        "dedup_key": dedup_key("acme", 7),
        "summary": summary(1, "Acme Corp", "Everything is down"),
        "severity": "critical",
        "source": "zendesk:acme",
        "custom_details": {"ticket_url": TICKET_URL, "sev": 1, "org": "Acme Corp"},
        "links": [{"href": TICKET_URL, "text": "Ticket #7"}],
        **changes,
    }


def drive_trigger(pager: PagerDutyPager) -> None:
    for severity in SEVERITIES:
        pager.trigger(**trigger_kwargs(severity=severity))
    pager.trigger(**trigger_kwargs(links=[]))
    pager.trigger(**trigger_kwargs(summary="x" * 5000))  # truncated by the pager
    pager.trigger(**trigger_kwargs(dedup_key=dedup_key("a" * 400, 7)))  # hashed short
    pager.trigger(**trigger_kwargs(routing_key=ORG_KEY))
    pager.trigger(**trigger_kwargs(routing_key=Secret(ORG_KEY)))


def drive_resolve(pager: PagerDutyPager) -> None:
    pager.resolve(dedup_key=dedup_key("acme", 7))
    pager.resolve(dedup_key=dedup_key("acme", 7), routing_key=ORG_KEY)
    pager.resolve(dedup_key=dedup_key("acme", 7), routing_key=Secret(ORG_KEY))


CASES: dict[str, Callable[[PagerDutyPager], object]] = {
    "trigger": drive_trigger,
    "resolve": drive_resolve,
}
NO_EVENTS: dict[str, Callable[[PagerDutyPager], object]] = {
    "close": lambda p: p.close(),
    "host": lambda p: p.host,
    "default_routing_key": lambda p: p.default_routing_key,
    "from_config": lambda p: PagerDutyPager.from_config(
        Config(pagerduty_routing_key=Secret(KEY))
    ).close(),
}


def public_members() -> set[str]:
    return {name for name in dir(PagerDutyPager) if not name.startswith("_")}


def test_every_public_method_has_a_contract_case() -> None:
    """A public pager member is either driven by a contract case or known to send nothing."""
    missing = public_members() - set(CASES) - set(NO_EVENTS)
    assert not missing, (
        f"PagerDutyPager.{', '.join(sorted(missing))}: add a case to CASES "
        "(tests/contract/test_pagerduty_events.py) so its events are checked"
    )
    stale = (set(CASES) | set(NO_EVENTS)) - public_members()
    assert not stale, f"cases for members that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("method", sorted(CASES))
def test_events_follow_the_events_api_v2(
    method: str, recorder: Recorder, pager: PagerDutyPager
) -> None:
    """Each event goes to /v2/enqueue as closed, documented JSON."""
    CASES[method](pager)
    assert recorder.captured, f"{method} sent nothing"
    assert_on_contract(recorder.captured)


@pytest.mark.parametrize("member", sorted(NO_EVENTS))
def test_members_without_a_case_send_nothing(
    member: str, recorder: Recorder, pager: PagerDutyPager
) -> None:
    NO_EVENTS[member](pager)
    assert recorder.captured == []


def test_resolve_is_sent_with_the_routing_key_it_is_given(
    recorder: Recorder, pager: PagerDutyPager
) -> None:
    """PagerDuty drops a resolve sent under another routing key ("Alert De-Duplication")."""
    pager.resolve(dedup_key="zendesk-acme-ticket-7", routing_key=ORG_KEY)
    (event,) = [r.json() for r in recorder.captured]
    assert event["routing_key"] == ORG_KEY


@settings(max_examples=100, deadline=None)
@given(
    subject=st.text(max_size=3000),
    org_name=st.text(max_size=300),
    sev=st.integers(1, 4),
    account=st.from_regex(r"[a-z0-9][a-z0-9-]{0,300}", fullmatch=True),
    ticket_id=st.integers(1, 10**12),
    details=st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.none() | st.integers() | st.text(max_size=200),
        max_size=5,
    ),
)
def test_any_trigger_the_product_can_build_is_valid(
    subject: str,
    org_name: str,
    sev: int,
    account: str,
    ticket_id: int,
    details: dict[str, Any],
) -> None:
    """Whatever the ticket says, the event built by summary()/dedup_key() stays within the limits."""
    recorder = Recorder()
    pager = PagerDutyPager(routing_key=Secret(KEY), transport=recorder.transport)
    try:
        pager.trigger(
            **trigger_kwargs(
                dedup_key=dedup_key(account, ticket_id),
                summary=summary(sev, org_name, subject),
                custom_details=details,
            )
        )
        pager.resolve(dedup_key=dedup_key(account, ticket_id))
    finally:
        pager.close()
    assert len(recorder.captured) == 2
    assert_on_contract(recorder.captured)
