"""The attainment arithmetic, on hand-computed tickets under the seed's default policy.

Core hours are Mon-Fri 05:00 -> 01:00 next day, UTC. 2026-09-01 is a Tuesday.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.report.attainment import (
    Outcome,
    ReportBuilder,
    TicketFacts,
    assess,
    minutes_late,
    nearest_rank,
    tally,
)
from sidecar.sla import DEFAULT_POLICY, NoTargetError, Policy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 9) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_late_reply_is_breached_by_the_covered_time_past_due() -> None:
    """SEV 3 opened Tue 10:00 is due 16:00; a reply at 17:30 is 90 minutes late."""
    facts = TicketFacts(
        ticket_id=1,
        created_at=at(1, 10),
        severity=3,
        recorded_first_response_at=at(1, 17, 30),
    )
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert outcome.status == "breached"
    assert outcome.due_at == at(1, 16)
    assert outcome.late == minutes(90)
    assert outcome.covered == outcome.calendar == minutes(450)
    assert outcome.source == "ticket"
    assert outcome.month == "2026-09"


def test_reply_before_the_clock_started_took_no_covered_time() -> None:
    """SEV 3 opened Saturday 10:00 (clock starts Monday 05:00), answered at 11:00."""
    facts = TicketFacts(
        ticket_id=2,
        created_at=at(5, 10),
        severity=3,
        recorded_first_response_at=at(5, 11),
    )
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert outcome.status == "met"
    assert outcome.due_at == at(7, 11)
    assert outcome.covered == timedelta(0)
    assert outcome.calendar == minutes(60)
    assert outcome.late is None


def test_severity_raised_before_the_reply_counts_against_the_new_target() -> None:
    """SEV 4 -> SEV 1 at 10:30 on a ticket opened at 10:00: due 11:00, reply 11:30."""
    facts = TicketFacts(
        ticket_id=3,
        created_at=at(1, 10),
        severity=1,  # the severity now; the sidecar recomputed the due time
        recorded_due_at=at(1, 11),
        recorded_first_response_at=at(1, 11, 30),
        recorded_verdict="breached",
    )
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert (outcome.status, outcome.late, outcome.severity) == (
        "breached",
        minutes(30),
        1,
    )
    # Without any record (a ticket from before the fields), the same from the policy:
    bare = TicketFacts(
        ticket_id=3,
        created_at=at(1, 10),
        severity=1,
        has_metric_set=True,
        metric_replies=1,
        metric_reply_calendar_minutes=90,
    )
    computed = assess(bare, DEFAULT_POLICY, now=NOW)
    assert (computed.status, computed.due_at, computed.late) == (
        "breached",
        at(1, 11),
        minutes(30),
    )
    assert computed.source == "metric_sets"


def test_severity_changed_after_the_reply_does_not_reopen_the_verdict() -> None:
    """SEV 3 answered in 2 h (met, due 16:00 kept), later raised to SEV 1: still met."""
    facts = TicketFacts(
        ticket_id=4,
        created_at=at(1, 10),
        severity=1,
        recorded_verdict="met",
        recorded_due_at=at(1, 16),
        recorded_first_response_at=at(1, 12),
    )
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert outcome.status == "met"
    assert outcome.due_at == at(1, 16)
    assert outcome.covered == minutes(120)  # on SEV 1's 24/7 schedule
    # The settled tag stands even where only Zendesk's metrics give the reply:
    no_fields = TicketFacts(
        ticket_id=4,
        created_at=at(1, 10),
        severity=1,
        recorded_verdict="met",
        has_metric_set=True,
        metric_replies=1,
        metric_reply_calendar_minutes=120,
    )
    assert assess(no_fields, DEFAULT_POLICY, now=NOW).status == "met"


def test_never_replied_and_solved_is_breached_until_it_was_solved() -> None:
    """SEV 2 opened 10:00 (due 12:00), solved at 15:00 without any agent reply."""
    facts = TicketFacts(
        ticket_id=5,
        created_at=at(1, 10),
        severity=2,
        ticket_status="solved",
        has_metric_set=True,
        metric_replies=0,
        metric_reply_calendar_minutes=None,
        metric_solved_at=at(1, 15),
    )
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert outcome.status == "breached"
    assert outcome.first_response_at is None
    assert outcome.source == "none"
    assert outcome.late == minutes(180)
    assert outcome.covered is None and outcome.calendar is None


def test_unanswered_and_not_yet_due_is_open_and_past_due_is_breached_so_far() -> None:
    facts = TicketFacts(
        ticket_id=6,
        created_at=at(1, 10),
        severity=3,
        has_metric_set=True,
        metric_replies=0,
    )
    assert assess(facts, DEFAULT_POLICY, now=at(1, 12)).status == "open"
    late = assess(facts, DEFAULT_POLICY, now=at(1, 18))
    assert (late.status, late.late) == ("breached", minutes(120))


def test_no_record_and_no_metric_set_is_unknown_not_guessed() -> None:
    facts = TicketFacts(ticket_id=7, created_at=at(1, 10), severity=3)
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert outcome.status == "unknown"
    assert outcome.first_response_at is None and outcome.late is None
    # A metric set that counts replies but has no reply time is no answer either.
    odd = TicketFacts(
        ticket_id=7,
        created_at=at(1, 10),
        severity=3,
        has_metric_set=True,
        metric_replies=2,
    )
    assert assess(odd, DEFAULT_POLICY, now=NOW).status == "unknown"


def test_metric_set_minutes_are_converted_with_the_policy() -> None:
    """SEV 3 opened Fri 23:00, first reply 180 calendar minutes later (Sat 02:00).

    Covered: Fri 23:00 -> Sat 01:00 = 120 min; due Mon 09:00 (2 h Friday, 4 h Monday).
    """
    facts = TicketFacts(
        ticket_id=8,
        created_at=at(4, 23),
        severity=3,
        has_metric_set=True,
        metric_replies=1,
        metric_reply_calendar_minutes=180,
    )
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert (outcome.status, outcome.due_at) == ("met", at(7, 9))
    assert (outcome.covered, outcome.calendar) == (minutes(120), minutes(180))


def test_the_ticket_field_wins_over_zendesk_metrics_and_recorded_lateness_wins() -> (
    None
):
    facts = TicketFacts(
        ticket_id=9,
        created_at=at(1, 10),
        severity=3,
        recorded_first_response_at=at(1, 17, 30),
        recorded_late_minutes=91,
        has_metric_set=True,
        metric_replies=1,
        metric_reply_calendar_minutes=5,
    )
    outcome = assess(facts, DEFAULT_POLICY, now=NOW)
    assert (outcome.status, outcome.source, outcome.late) == (
        "breached",
        "ticket",
        minutes(91),
    )


def test_a_severity_without_target_is_refused() -> None:
    policy = Policy("only-sev1", {1: DEFAULT_POLICY.targets[1]})
    facts = TicketFacts(ticket_id=10, created_at=at(1, 10), severity=3)
    with pytest.raises(NoTargetError):
        assess(facts, policy, now=NOW)


def test_minutes_late_rounds_up() -> None:
    assert minutes_late(timedelta(seconds=30)) == 1
    assert minutes_late(timedelta(minutes=90)) == 90
    assert minutes_late(timedelta(minutes=90, seconds=1)) == 91
    assert minutes_late(timedelta(0)) == 0


def test_nearest_rank_percentiles_by_hand() -> None:
    counts = Counter(range(1, 11))  # 1..10 once each
    assert nearest_rank(counts, 50) == 5
    assert nearest_rank(counts, 90) == 9
    assert nearest_rank({7: 3}, 90) == 7
    assert nearest_rank({}, 50) is None
    # 70 values: 90 % of 70 is exactly rank 63 (no float drift to 64).
    assert nearest_rank(Counter(range(1, 71)), 90) == 63


def _outcome(
    tid: int,
    status: str,
    *,
    severity: int = 3,
    org: int | None = 1,
    month: int = 9,
    covered_min: int | None = None,
) -> Outcome:
    created = at(1, 10, month=month)
    covered = minutes(covered_min) if covered_min is not None else None
    return Outcome(
        ticket_id=tid,
        severity=severity,
        organization_id=org,
        month=created.strftime("%Y-%m"),
        status=status,
        source="ticket" if covered is not None else "unknown",
        created_at=created,
        due_at=created + timedelta(hours=6),
        target=timedelta(hours=6),
        first_response_at=created + covered if covered is not None else None,
        covered=covered,
        calendar=covered,
        late=minutes(5) if status == "breached" else None,
    )


def test_tallies_by_group_with_percentages_and_a_ticket_seen_twice_counted_once() -> (
    None
):
    builder = ReportBuilder()
    builder.add(_outcome(1, "met", covered_min=10))
    builder.add(_outcome(2, "breached", covered_min=400, org=2))
    builder.add(_outcome(3, "open", month=10))
    builder.add(_outcome(4, "unknown", severity=1, org=None, month=10))
    builder.add(
        _outcome(1, "breached", covered_min=380)
    )  # ticket 1 again, later version
    builder.discard(3)  # ticket 3's latest version left the SLA
    result = builder.result()
    assert (result.overall.total, result.overall.met, result.overall.breached) == (
        3,
        0,
        2,
    )
    assert result.overall.percent("breached") == pytest.approx(200 / 3)
    assert result.overall.attainment == 0.0
    assert [(r.key, r.total) for r in result.by_month] == [
        ("2026-09", 2),
        ("2026-10", 1),
    ]
    assert [r.key for r in result.by_organization] == ["1", "2", "none"]
    assert [b.ticket_id for b in result.breaches] == [1, 2]
    sev3 = next(t for t in result.response_times if t.severity == 3)
    assert (sev3.responded, sev3.median_covered, sev3.p90_covered) == (
        2,
        380 * 60,
        400 * 60,
    )


statuses = st.sampled_from(("met", "breached", "open", "unknown"))
versions = st.lists(
    st.tuples(
        st.integers(1, 12),  # ticket id (repeats = later versions)
        statuses,
        st.integers(1, 5),
        st.one_of(st.none(), st.integers(1, 3)),
        st.integers(9, 11),
        st.one_of(st.none(), st.integers(0, 5000)),
    ),
    max_size=60,
)


@given(versions)
def test_incremental_tallies_equal_a_recount_of_the_latest_versions(rows: list) -> None:
    """However versions interleave, the result is the recount of each ticket's last one."""
    outcomes = [
        _outcome(t, s, severity=sev, org=org, month=m, covered_min=c)
        for t, s, sev, org, m, c in rows
    ]
    result = tally(outcomes)
    latest = {o.ticket_id: o for o in outcomes}
    for status in ("met", "breached", "open", "unknown"):
        assert result.overall.count(status) == sum(
            1 for o in latest.values() if o.status == status
        )
    for row in result.by_severity:
        assert row.total == sum(
            1 for o in latest.values() if str(o.severity) == row.key
        )
    for times in result.response_times:
        values = sorted(
            int(o.covered.total_seconds())
            for o in latest.values()
            if o.severity == times.severity and o.covered is not None
        )
        assert times.responded == len(values)
        if values:
            assert times.median_covered == values[-(-len(values) // 2) - 1]
            assert times.p90_covered == values[-(-9 * len(values) // 10) - 1]
    assert {b.ticket_id for b in result.breaches} == {
        o.ticket_id for o in latest.values() if o.status == "breached"
    }
