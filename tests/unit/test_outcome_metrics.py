"""`sidecar_sla_outcomes_total`: the outcomes the reconciler records, counted as it writes them."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from sidecar.domain.models import Comment
from tests.unit.test_reconciler import (
    NOW,
    FakeScheduler,
    FakeZendesk,
    reconciler,
    ticket,
)

AGENT = 7


class AnsweredZendesk(FakeZendesk):
    """The reconciler's fake Zendesk, with an agent's public reply at ``reply_at``."""

    reply_at = None

    def list_comments(self, ticket_id: int) -> list[Comment]:
        comments = super().list_comments(ticket_id)
        if self.reply_at is not None:
            comments.append(Comment(2, AGENT, True, self.reply_at, "agent"))
        return comments


def count(outcome: str, severity: int) -> float:
    value = REGISTRY.get_sample_value(
        "sidecar_sla_outcomes_total",
        {"outcome": outcome, "severity": str(severity)},
    )
    assert value is not None  # every outcome x severity is exported from the start
    return value


def test_a_reply_in_time_counts_one_met_once() -> None:
    """The write that adds sla_met counts once; a later reconcile writes and counts nothing."""
    zendesk = AnsweredZendesk(ticket("sev_3"))
    zendesk.reply_at = NOW - timedelta(minutes=10)
    before = count("met", 3), count("breached", 3)
    rec = reconciler(zendesk, FakeScheduler())
    assert rec.reconcile(42).wrote
    assert not rec.reconcile(42).wrote
    assert (count("met", 3), count("breached", 3)) == (before[0] + 1, before[1])


def test_a_breach_counts_when_recorded_and_not_again_at_the_late_reply() -> None:
    """SEV 1 opened 2 h ago without reply: breached once; the late reply adds no count."""
    zendesk = AnsweredZendesk(ticket("sev_1", created_at=NOW - timedelta(hours=2)))
    before = count("breached", 1), count("met", 1)
    rec = reconciler(zendesk, FakeScheduler())
    rec.reconcile(42)
    assert "sla_breached" in zendesk.ticket.tags
    zendesk.reply_at = NOW - timedelta(minutes=5)
    rec.reconcile(42)
    assert "sla_breached" in zendesk.ticket.tags
    assert (count("breached", 1), count("met", 1)) == (before[0] + 1, before[1])


def test_a_dry_run_counts_nothing() -> None:
    zendesk = AnsweredZendesk(ticket("sev_2"))
    zendesk.reply_at = NOW - timedelta(minutes=10)
    before = count("met", 2)
    reconciler(zendesk, FakeScheduler(), dry_run=True).reconcile(42)
    assert count("met", 2) == before
