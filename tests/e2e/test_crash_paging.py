"""A worker killed in the middle of a page: the page still goes out, once, within seconds.

Huey removes a job from the queue when a worker takes it, so a SIGKILL during the
PagerDuty call loses the job; the escalation's lease (the durable "page wanted"
record) lapses and the next worker enqueues the page again.
"""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

import pytest

from tests.e2e.conftest import ROUTING_KEY, SEVERITY_FIELD, connected_env
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk
from tests.support import (
    post_webhook,
    redis_queue_url,
    start_gunicorn,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.e2e


def _notify(url: str, env: dict[str, str], ticket_id: int, n: int) -> None:
    # Distinct deliveries differ in body (the same signed timestamp + body twice
    # is dropped as a replay), as Zendesk's would in updated_at.
    body = json.dumps(
        {"ticket_id": str(ticket_id), "event": "ticket.changed", "delivery": n}
    )
    status, _ = post_webhook(
        url,
        body.encode(),
        secret=env["SIDECAR_WEBHOOK_SECRET"],
        invocation_id=f"crash-{ticket_id}-{n}",
    )
    assert status == 202


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_sigkill_during_the_pagerduty_call_still_pages_once(
    tmp_path: Path, backend: str
) -> None:
    """SEV 1, PagerDuty slow, worker SIGKILLed mid-call, restarted: one incident, one marker."""
    with contextlib.ExitStack() as stack:
        queue = (
            {}
            if backend == "sqlite"
            else {"SIDECAR_QUEUE_URL": stack.enter_context(redis_queue_url())}
        )
        _crash_during_page(tmp_path, queue)


def _entitled_ticket(zendesk: FakeZendesk, severity: str) -> int:
    """A ticket of severity ``severity`` in an organization with Enterprise Support."""
    org = zendesk.add_org(
        name="Acme Corp",
        fields={"support_plan": "enterprise", "enterprise_support": True},
    )
    return zendesk.add_ticket(
        organization_id=org, custom_fields={SEVERITY_FIELD: severity}
    )


def _crash_during_page(tmp_path: Path, queue: dict[str, str]) -> None:
    with (
        FakeZendesk() as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as pagerduty,
    ):
        tid = _entitled_ticket(zendesk, "sev_1")
        env = connected_env(tmp_path, zendesk, pagerduty, **queue)
        pagerduty.delay(3.0)
        with start_gunicorn(env, cwd=tmp_path) as web:
            with start_worker(env, cwd=tmp_path) as worker:
                _notify(web.url, env, tid, 1)
                # The trigger is in flight at PagerDuty: kill the worker now.
                wait_for(lambda: pagerduty.request_count >= 1, timeout=15)
                worker.stop(sig=signal.SIGKILL)
            pagerduty.delay(0)
            with start_worker(env, cwd=tmp_path) as restarted:
                for n in range(2, 5):
                    _notify(web.url, env, tid, n)
                wait_for(lambda: "oncall_paged" in zendesk.ticket(tid).tags, timeout=45)
                restarted.wait_for_log(
                    lambda e: e.get("msg") == "paged" and e.get("ticket_id") == tid,
                    timeout=10,
                )
        notes = [c for c in zendesk.comments(tid) if not c.public]
        assert len(notes) == 1, "the page is recorded exactly once"
        dedup_keys = {e["dedup_key"] for e in pagerduty.triggers()}
        assert dedup_keys == {f"zendesk-acme-ticket-{tid}"}
        assert len(pagerduty.incidents()) == 1, "one incident, however many triggers"
        assert zendesk.errors == []


def test_sigkill_during_a_reconcile_is_recovered_before_any_sweep(
    tmp_path: Path,
) -> None:
    """A reconcile whose worker is killed mid-read is enqueued again by the next worker within seconds."""
    with (
        FakeZendesk() as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as pagerduty,
    ):
        tid = _entitled_ticket(zendesk, "sev_3")
        env = connected_env(tmp_path, zendesk, pagerduty)
        # The ticket read hangs: the worker is killed while it waits for it.
        zendesk.delay(3.0, path_contains=f"/tickets/{tid}.json", count=1, method="GET")
        with start_gunicorn(env, cwd=tmp_path) as web:
            with start_worker(env, cwd=tmp_path) as worker:
                _notify(web.url, env, tid, 1)
                wait_for(
                    lambda: zendesk.calls("GET", f"/tickets/{tid}.json"), timeout=15
                )
                worker.stop(sig=signal.SIGKILL)
            with start_worker(env, cwd=tmp_path) as restarted:
                # No new event: only the in-flight record can bring the job back.
                # (The sweep could too, but not before the export's one-minute lag.)
                wait_for(lambda: "sla_pending" in zendesk.ticket(tid).tags, timeout=40)
                assert any(
                    "enqueued again" in e.get("msg", "") for e in restarted.json_logs()
                )
        assert zendesk.errors == []
