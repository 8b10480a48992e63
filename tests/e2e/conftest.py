"""A connected sidecar for end-to-end tests: fake Zendesk and PagerDuty on 127.0.0.1.

``stack`` runs the sidecar against a FakeZendesk holding an entitled
organization, and a FakePagerDuty: in this process (tests/inprocess.py: the
real app, worker runner and queue, no gunicorn), or with ``processes=True``
as real `sidecar serve` (gunicorn + worker) where the processes are the point. Every write the fake
Zendesk accepts fires the webhook Zendesk's trigger would send for it, so the
loop our own writes cause is part of every test.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk, WriteEvent
from tests.inprocess import InProcess, start_inprocess
from tests.support import Process, post_webhook, sidecar_env, start_serve

SEVERITY_FIELD, DUE_AT_FIELD, DUE_DATE_FIELD = 360001, 360002, 360003
# The seed's "Issue Severity" dropdown: Zendesk couples each option to its tag.
SEVERITY_OPTIONS = [
    ("SEV 1 - Critical", "sev_1"),
    ("SEV 2 - High", "sev_2"),
    ("SEV 3 - Medium", "sev_3"),
    ("SEV 4 - Low", "sev_4"),
    ("SEV 5 - Lowest", "sev_5"),
]


def define_fields(zendesk: FakeZendesk) -> None:
    """Create the ticket fields a set-up account has: the severity dropdown and the due fields."""
    zendesk.add_ticket_field(
        SEVERITY_FIELD, title="Issue Severity", type="tagger", options=SEVERITY_OPTIONS
    )
    zendesk.add_ticket_field(DUE_AT_FIELD, title="First response due", type="text")
    zendesk.add_ticket_field(
        DUE_DATE_FIELD, title="First response due date", type="date"
    )


# The severity part of the trigger body `sidecar zendesk setup` creates.
SEVERITY_PLACEHOLDER = "{{ticket.ticket_field_" + str(SEVERITY_FIELD) + "}}"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"  # 32 characters, like PagerDuty's

# The seed's targets for SEV 1-3 on 24/7, and an 8-second SEV 4 so timers can be watched.
FAST_POLICY = """
[policies.fast]
sev1 = { target = "1h", schedule = "24/7" }
sev2 = { target = "2h", schedule = "24/7" }
sev3 = { target = "6h", schedule = "24/7" }
sev4 = { target = "8s", schedule = "24/7" }
sev5 = { target = "1d", schedule = "24/7" }
"""


@dataclass
class Stack:
    """The running sidecar and its fake upstreams."""

    zendesk: FakeZendesk
    pagerduty: FakePagerDuty
    serve: Process | InProcess
    env: dict[str, str]
    entitled_org: int
    plain_org: int
    agent: int
    echoes: list[tuple[int, int]] = field(default_factory=list)  # (ticket, status)
    # The PagerDuty webhook subscription that points at the sidecar (or None).
    subscription: str | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def ticket(
        self, *, severity: str | None = "sev_3", org: int | None = None, **kw: Any
    ) -> int:
        """Create a ticket of the entitled org (unless ``org`` says otherwise)."""
        fields = {SEVERITY_FIELD: severity} if severity is not None else {}
        return self.zendesk.add_ticket(
            organization_id=self.entitled_org if org is None else org,
            custom_fields=fields,
            **kw,
        )

    def notify(
        self,
        ticket_id: int,
        *,
        invocation_id: str | None = None,
        event: str = "ticket.changed",
    ) -> tuple[int, dict[str, Any]]:
        """Send the trigger webhook Zendesk sends when a ticket changes.

        Like the README's trigger body it carries ``updated_at``, so deliveries
        for two changes differ even within one second (the sidecar drops a
        second delivery of the same signed timestamp + body as a replay).
        """
        try:
            updated_at = self.zendesk.ticket(ticket_id).updated_at
            org, severity = (
                self.zendesk.render_trigger_body(part, ticket_id)
                for part in ("{{ticket.organization.id}}", SEVERITY_PLACEHOLDER)
            )
        except KeyError:  # deleted, or never there
            updated_at = org = severity = ""
        body = {
            "ticket_id": str(ticket_id),
            "event": event,
            "updated_at": updated_at,
            "organization_id": org,
            "severity": severity,  # what setup's trigger body adds (the lane hint)
        }
        return post_webhook(
            self.serve.url,
            json.dumps(body).encode(),
            secret=self.env["SIDECAR_WEBHOOK_SECRET"],
            invocation_id=invocation_id or f"inv-{next(self._ids)}",
        )

    def puts(self, ticket_id: int) -> list[Any]:
        """The ticket writes the sidecar made."""
        return self.zendesk.calls(
            method="PUT", path_contains=f"/tickets/{ticket_id}.json"
        )

    def handled(self, ticket_id: int) -> list[dict[str, Any]]:
        """The worker's log lines for each job of the ticket: reconciled, or skipped as known."""
        return handled_in(self.serve.json_logs(), ticket_id)

    def reconciles(self, ticket_id: int) -> list[dict[str, Any]]:
        """The worker's "reconciled" log lines for the ticket."""
        return [
            e
            for e in self.serve.json_logs()
            if e.get("msg") == "reconciled" and e.get("ticket_id") == ticket_id
        ]


HANDLED = {
    "reconciled",
    "change already seen: nothing to do",
    "own change: nothing to do",
}


def handled_in(logs: list[dict[str, Any]], ticket_id: int) -> list[dict[str, Any]]:
    """A worker's log lines for each job of the ticket: reconciled, or skipped as known.

    Whether a later event of a ticket is read again or skipped (its change is
    provably inside the state an earlier job read) depends on which job runs
    first: count both when counting jobs.
    """
    return [
        e for e in logs if e.get("msg") in HANDLED and e.get("ticket_id") == ticket_id
    ]


def connected_env(
    tmp_path: Path, zendesk: FakeZendesk, pagerduty: FakePagerDuty, **overrides: str
) -> dict[str, str]:
    """The environment of a sidecar connected to the fakes, with the fast policy."""
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_POLICY)
    settings = {
        **zendesk.env(),
        "SIDECAR_SEVERITY_FIELD_ID": str(SEVERITY_FIELD),
        "SIDECAR_DUE_AT_FIELD_ID": str(DUE_AT_FIELD),
        "SIDECAR_DUE_DATE_FIELD_ID": str(DUE_DATE_FIELD),
        "SIDECAR_POLICY_FILE": str(policy),
        "SIDECAR_PAGERDUTY_URL": pagerduty.url,
        "SIDECAR_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
        "SIDECAR_RETRY_BASE_SECONDS": "0.2",
    }
    return sidecar_env(tmp_path, **{**settings, **overrides})


@contextlib.contextmanager
def running_stack(
    tmp_path: Path,
    *,
    entitlements: Callable[[int], str] | None = None,
    zendesk_options: dict[str, Any] | None = None,
    extra_routing_keys: tuple[str, ...] = (),
    echo: Callable[[Stack, WriteEvent], None] | None = None,
    processes: bool = False,
    pagerduty_webhooks: bool = False,
    one_thread_per_lane: bool = False,
    **overrides: str,
) -> Iterator[Stack]:
    """Start the fakes and the sidecar; fire the echo webhook of every write.

    The sidecar runs in this process (tests/inprocess.py), or with
    ``processes=True`` as `sidecar serve` (gunicorn + worker processes).

    ``entitlements(entitled_org_id)`` returns the text of an entitlements file.
    PagerDuty accepts only ROUTING_KEY; any other key gets its 400. ``echo``
    replaces the default echo (a trigger without conditions, fired after every
    changing ticket write) with what a differently set-up account would send.
    ``pagerduty_webhooks``: PagerDuty holds a V3 webhook subscription to the
    sidecar's /webhooks/pagerduty, whose secret the sidecar is given.
    ``one_thread_per_lane``: the in-process worker runs one job at a time per
    lane, so two reconciles of one ticket never overlap (a test of what one
    reconcile does per change).
    """
    with (
        FakeZendesk(**(zendesk_options or {})) as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY, *extra_routing_keys]) as pagerduty,
    ):
        define_fields(zendesk)
        entitled = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        plain = zendesk.add_org(
            name="Small Shop",
            fields={"support_plan": "team", "enterprise_support": False},
        )
        agent = zendesk.add_user(role="agent", name="Agent Smith")
        if entitlements is not None:
            path = tmp_path / "entitlements.toml"
            path.write_text(entitlements(entitled))
            overrides["SIDECAR_ENTITLEMENTS_FILE"] = str(path)
        subscription = None
        if pagerduty_webhooks:
            # Created before the sidecar starts (its secret is in the sidecar's
            # environment), pointed at it once it listens.
            subscription = pagerduty.subscribe("http://127.0.0.1:9/")
            overrides.setdefault(
                "SIDECAR_PAGERDUTY_WEBHOOK_SECRET", subscription.secrets[-1]
            )
        env = connected_env(tmp_path, zendesk, pagerduty, **overrides)
        if processes:
            started = start_serve(env, cwd=tmp_path)
        elif one_thread_per_lane:
            started = start_inprocess(env, workers=1, urgent_workers=1)
        else:
            started = start_inprocess(env)
        with started as serve:
            stack = Stack(zendesk, pagerduty, serve, env, entitled, plain, agent)
            if subscription is not None:
                pagerduty.move(subscription.id, f"{serve.url}/webhooks/pagerduty")
                stack.subscription = subscription.id

            def default_echo(event: WriteEvent) -> None:
                # Zendesk runs triggers after every update, ours included.
                if event.resource == "ticket" and event.changed:
                    stack.echoes.append((event.id, stack.notify(event.id)[0]))

            if echo is None:
                zendesk.on_write(default_echo)
            else:
                zendesk.on_write(lambda event: echo(stack, event))
            yield stack
            assert zendesk.errors == []


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A connected `sidecar serve` with fake Zendesk and PagerDuty."""
    with running_stack(tmp_path) as running:
        yield running
