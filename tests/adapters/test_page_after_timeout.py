"""PagerDuty accepts a trigger after our timeout: the retry lands on the same incident.

Real PagerDutyPager against the strict PagerDuty double over HTTP, and the
reconciler with its recording Zendesk port: the fault run once saw three
accepted triggers for one ticket; what matters is one incident and one record.
"""

from __future__ import annotations

import pytest

from sidecar.config import Secret
from sidecar.errors import Transient
from sidecar.oncall.pagerduty import PagerDutyPager
from tests.fake_pagerduty import FakePagerDuty
from tests.unit.test_reconciler import FakeScheduler, FakeZendesk, reconciler, ticket

KEY = "R0UT1NGKEY0123456789abcdef012345"


def test_a_trigger_accepted_after_our_timeout_opens_one_incident() -> None:
    """The first trigger times out (PagerDuty still takes it); the retry is deduplicated."""
    with FakePagerDuty(routing_keys=[KEY]) as pagerduty:
        pager = PagerDutyPager(url=pagerduty.url, routing_key=Secret(KEY), timeout=0.3)
        zendesk = FakeZendesk(ticket("sev_1"))
        rec = reconciler(zendesk, FakeScheduler(), pager)  # type: ignore[arg-type]
        pagerduty.delay(1.0)
        with pytest.raises(Transient, match="timed out"):
            rec.escalate(42)
        pagerduty.wait_for_events(1, timeout=5)  # it was accepted after all
        assert zendesk.updates == []  # nothing recorded: we do not know it went out
        pagerduty.delay(0)
        rec.escalate(42)  # the worker's retry
        assert len(pagerduty.triggers()) == 2
        (incident,) = pagerduty.incidents()
        assert incident.open and incident.routing_key == KEY
        notes = [u for u in zendesk.updates if u.private_note]
        assert len(notes) == 1 and "oncall_paged" in zendesk.ticket.tags
        rec.escalate(42)  # a redelivered job after the record: nothing more
        assert len(pagerduty.triggers()) == 2
