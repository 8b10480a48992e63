"""Every metric's cycles, tallied (pure): statuses per cycle, groups, replacement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sidecar.report.cycles import CycleBuilder, cycle_statuses
from sidecar.sla import METRICS, Reply, StatusChange, Target, measure
from sidecar.sla.schedule import TWENTY_FOUR_SEVEN

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
HOUR_24_7 = Target(H, TWENTY_FOUR_SEVEN)


def state(name: str, replies: list[tuple[float, str]], statuses=(), now_h=100.0):
    return measure(
        name,
        Target(H, TWENTY_FOUR_SEVEN, pause=frozenset({"pending"}))
        if name == "resolution"
        else HOUR_24_7,
        created_at=T0,
        replies=[Reply(T0 + h * H, who, True) for h, who in replies],
        statuses=[StatusChange(s, T0 + h * H) for h, s in statuses],
        now=T0 + now_h * H,
    )


def test_each_customer_turn_is_a_cycle() -> None:
    history = [(0, "end-user"), (0.5, "agent"), (1, "end-user"), (1.5, "agent")]
    history += [(2, "end-user"), (4, "agent"), (5, "end-user")]
    assert cycle_statuses(state("next_reply", history), ticket_status="open") == [
        "met",
        "breached",
        "breached",  # still unanswered, long past due
    ]


def test_a_solve_before_the_due_time_drops_the_running_cycle() -> None:
    history = [(0, "end-user"), (0.5, "agent"), (1, "end-user")]
    solved = state("next_reply", history, statuses=[(1.2, "solved")])
    assert cycle_statuses(solved, ticket_status="solved") == []
    late = state("next_reply", history, statuses=[(3, "solved")])
    assert cycle_statuses(late, ticket_status="solved") == ["breached"]


def test_a_running_cycle_not_yet_due_is_open() -> None:
    history = [(0, "end-user"), (0.5, "agent"), (1, "end-user")]
    fresh = state("next_reply", history, now_h=1.5)
    assert cycle_statuses(fresh, ticket_status="open") == ["open"]


def test_groups_and_replacing_a_ticket() -> None:
    builder = CycleBuilder()
    history = [(0, "end-user"), (0.5, "agent"), (1, "end-user"), (3, "agent")]
    nr = state("next_reply", history)
    names = ["first_response", "next_reply"]
    for tid, org in ((1, 7), (2, None)):
        builder.add(
            tid,
            severity=2,
            organization_id=org,
            ticket_status="open",
            first_response="met",
            names=names,
            states=(nr,),
        )
    builder.add(
        3,
        severity=1,
        organization_id=7,
        ticket_status="open",
        first_response="breached",
        names=names,
        states=None,
    )
    # Ticket 2 read again (updated while the export was read): counted once.
    builder.add(
        2,
        severity=2,
        organization_id=None,
        ticket_status="open",
        first_response="met",
        names=names,
        states=(nr,),
    )
    first, nxt = builder.result()
    assert (first.overall.met, first.overall.breached) == (2, 1)
    assert (nxt.overall.breached, nxt.overall.unknown, nxt.overall.total) == (2, 1, 3)
    assert [r.key for r in nxt.by_organization] == ["7", "none"]
    assert [r.key for r in nxt.by_severity] == ["1", "2"]


def test_first_response_only_gives_nothing() -> None:
    builder = CycleBuilder()
    builder.add(
        1,
        severity=3,
        organization_id=None,
        ticket_status="open",
        first_response="met",
        names=["first_response"],
        states=(),
    )
    assert builder.result() == ()


events = st.lists(
    st.tuples(
        st.floats(min_value=0.01, max_value=60, allow_nan=False),
        st.sampled_from(["end-user", "agent"]),
    ),
    max_size=12,
)
status_changes = st.lists(
    st.tuples(
        st.floats(min_value=0.01, max_value=60, allow_nan=False),
        st.sampled_from(["open", "pending", "hold", "solved"]),
    ),
    max_size=5,
)


@given(
    tickets=st.lists(
        st.tuples(
            events,
            status_changes,
            st.integers(1, 5),
            st.sampled_from([None, 7, 8]),
            st.booleans(),
        ),
        max_size=8,
    ),
    now_h=st.floats(min_value=0.5, max_value=80, allow_nan=False),
)
def test_the_tallies_add_up_to_the_cycles_of_each_ticket(tickets, now_h) -> None:
    """Overall = sum of severities = sum of organizations = what each ticket counts."""
    builder = CycleBuilder()
    expected = dict.fromkeys(METRICS[1:], 0)
    names = list(METRICS)
    for tid, (replies, statuses, severity, org, readable) in enumerate(tickets):
        history = [(0.0, "end-user"), *sorted(replies)]
        changes = sorted(statuses)
        current = changes[-1][1] if changes else "new"
        states = (
            tuple(state(n, history, changes, now_h) for n in METRICS[1:])
            if readable
            else None
        )
        for n in METRICS[1:]:
            expected[n] += (
                len(cycle_statuses(states[METRICS.index(n) - 1], ticket_status=current))
                if states is not None
                else 1
            )
        builder.add(
            tid,
            severity=severity,
            organization_id=org,
            ticket_status=current,
            first_response="met",
            names=names,
            states=states,
        )
    result = {m.name: m for m in builder.result()}
    for name, total in expected.items():
        if not tickets:
            assert not result
            continue
        m = result[name]
        assert m.overall.total == total
        assert sum(r.total for r in m.by_severity) == total
        assert sum(r.total for r in m.by_organization) == total
