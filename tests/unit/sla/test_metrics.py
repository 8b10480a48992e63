"""Hand-checked cases for each metric (the README's), and first response as today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.domain.models import Comment
from sidecar.domain.plan import first_agent_response
from sidecar.sla import CORE_HOURS, DEFAULT_POLICY, TWENTY_FOUR_SEVEN, evaluate
from sidecar.sla.errors import SlaInputError
from sidecar.sla.metrics import (
    Reply,
    StatusChange,
    author_of,
    measure,
    measure_all,
)
from sidecar.sla.policy import Policy, Target

H = timedelta(hours=1)
MON = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday


def at(day: int, hour: float) -> datetime:
    """Return 2026-12-(7 + day) at ``hour`` UTC."""
    return MON + timedelta(days=day, hours=hour)


def user(moment: datetime, public: bool = True) -> Reply:
    return Reply(moment, "end-user", public)


def agent(moment: datetime, public: bool = True) -> Reply:
    return Reply(moment, "agent", public)


def test_first_response_case() -> None:
    """SEV2, 2 h on 24/7: created Mon 10:00, answered 11:30 -> met, due 12:00."""
    state = measure(
        "first_response",
        Target(2 * H, TWENTY_FOUR_SEVEN),
        created_at=at(0, 10),
        replies=[user(at(0, 10)), agent(at(0, 11.5))],
        statuses=[],
        now=at(0, 13),
    )
    assert (state.state, state.due, state.start) == ("met", at(0, 12), at(0, 10))


def test_next_reply_case() -> None:
    """4 h on core hours: each customer turn starts its own clock."""
    target = Target(4 * H, CORE_HOURS)
    replies = [
        user(at(4, 20)),  # Fri 20:00, the description
        agent(at(4, 20.5)),  # the first response
        user(at(4, 23)),  # a turn opens Fri 23:00 ...
        user(at(4, 23.5)),  # ... and this comment joins it
        agent(at(7, 6)),  # Mon 06:00 answers it
        user(at(7, 9)),  # Mon 09:00: the next turn
    ]

    def now(moment: datetime) -> object:
        return measure(
            "next_reply",
            target,
            created_at=at(4, 20),
            replies=replies,
            statuses=[],
            now=moment,
        )

    state = now(at(7, 12))
    first, second = state.cycles
    # Fri 23:00 -> Sat 01:00 is 2 covered hours, the other 2 run from Mon 05:00.
    assert (first.start, first.stop, first.due) == (at(4, 23), at(7, 6), at(7, 7))
    assert first.state == "met"
    assert (second.start, second.due) == (at(7, 9), at(7, 13))
    # 3 of 4 hours elapsed at 12:00: at risk (75 %), breached from 13:00.
    assert (state.state, state.due) == ("at_risk", at(7, 13))
    assert now(at(7, 13)).state == "breached"
    assert now(at(7, 11)).state == "pending"


def test_next_reply_is_inactive_without_an_open_turn() -> None:
    """Before the first response, and once every turn is answered, nothing is due."""
    target = Target(4 * H, TWENTY_FOUR_SEVEN)
    common = {"created_at": at(0, 10), "statuses": [], "now": at(0, 20)}
    before = measure("next_reply", target, replies=[user(at(0, 10))], **common)
    answered = measure(
        "next_reply",
        target,
        replies=[user(at(0, 10)), agent(at(0, 11)), user(at(0, 12)), agent(at(0, 13))],
        **common,
    )
    assert (before.state, before.due, before.cycles) == ("inactive", None, ())
    assert (answered.state, answered.due) == ("inactive", None)
    assert [c.state for c in answered.cycles] == ["met"]


def test_periodic_update_case() -> None:
    """8 h on 24/7: an update is due 8 h after the previous public agent comment."""
    target = Target(8 * H, TWENTY_FOUR_SEVEN)
    replies = [
        user(at(0, 9)),
        agent(at(0, 10)),  # the first response starts the clock
        agent(at(0, 15), public=False),  # a private note is no update
        agent(at(0, 17)),  # due 18:00: met; the next is due Tue 01:00
    ]
    common = {"created_at": at(0, 9), "replies": replies}
    state = measure("periodic_update", target, statuses=[], now=at(1, 2), **common)
    assert [(c.start, c.due, c.state) for c in state.cycles] == [
        (at(0, 10), at(0, 18), "met"),
        (at(0, 17), at(1, 1), "breached"),
    ]
    assert (state.state, state.due) == ("breached", at(1, 1))
    solved = measure(
        "periodic_update",
        target,
        statuses=[StatusChange("solved", at(1, 3))],
        now=at(1, 4),
        **common,
    )
    assert (solved.state, solved.due) == ("inactive", None)


def test_resolution_case() -> None:
    """1 d (24 covered h) on core, paused while pending: the pause moves the due."""
    target = Target(24 * H, CORE_HOURS, pause=frozenset({"pending", "hold"}))
    statuses = [
        StatusChange("open", at(0, 10.5)),
        StatusChange("pending", at(0, 12)),  # Mon 12:00 -> Tue 12:00: 20 core hours
        StatusChange("open", at(1, 12)),
    ]
    common = {"created_at": at(0, 10), "replies": [user(at(0, 10))]}
    running = measure("resolution", target, statuses=statuses, now=at(1, 13), **common)
    # Without the pause it would be due Tue 14:00; 20 paused core hours later:
    assert CORE_HOURS.add(at(0, 10), 24 * H) == at(1, 14)
    assert (running.state, running.due) == ("pending", at(2, 14))
    assert [(p.start, p.end) for p in running.pauses] == [(at(0, 12), at(1, 12))]
    assert sum((w.duration for w in running.windows), timedelta()) == 2 * H + 1 * H
    paused = measure(
        "resolution", target, statuses=statuses[:2], now=at(1, 0), **common
    )
    assert (paused.state, paused.due, paused.paused) == ("pending", None, True)
    solved = measure(
        "resolution",
        target,
        statuses=[*statuses, StatusChange("solved", at(2, 13))],
        now=at(3, 0),
        **common,
    )
    assert (solved.state, solved.cycles[0].stop) == ("met", at(2, 13))


def test_measure_all_follows_the_policy() -> None:
    """The seed's default policy measures the first response only."""
    states = measure_all(
        created_at=at(0, 10),
        severity="sev_2",
        replies=[user(at(0, 10))],
        statuses=[],
        now=at(0, 11),
    )
    assert [s.name for s in states] == ["first_response"]
    assert (
        measure_all(
            created_at=at(0, 10), severity=None, replies=[], statuses=[], now=at(0, 11)
        )
        == ()
    )
    policy = Policy(
        "p",
        {},
        metrics={2: {"resolution": Target(H, TWENTY_FOUR_SEVEN)}},
    )
    only = measure_all(
        created_at=at(0, 10),
        severity=2,
        replies=[],
        statuses=[],
        now=at(0, 12),
        policy=policy,
    )
    assert [(s.name, s.state) for s in only] == [("resolution", "breached")]


def test_bad_input_is_named() -> None:
    """Naive instants, unknown authors and metrics are clear errors."""
    target = Target(H, TWENTY_FOUR_SEVEN)
    good = {"created_at": at(0, 1), "replies": [], "statuses": [], "now": at(0, 2)}
    with pytest.raises(SlaInputError, match="naive"):
        measure("resolution", target, **{**good, "now": datetime(2026, 1, 1)})
    with pytest.raises(SlaInputError, match="author 'bot'"):
        measure(
            "next_reply", target, **{**good, "replies": [Reply(at(0, 1), "bot", True)]}
        )
    with pytest.raises(SlaInputError, match="unknown metric"):
        measure("first_reply", target, **good)


# First response: identical to today's plan (first_agent_response + evaluate).

REQUESTER, SELF = 1, 99
comments = st.lists(
    st.builds(
        Comment,
        id=st.integers(1, 10**6),
        author_id=st.sampled_from([None, REQUESTER, SELF, 2, 3]),
        public=st.booleans(),
        created_at=st.integers(0, 3 * 24 * 60).map(
            lambda m: at(0, 0) + timedelta(minutes=m)
        ),
        author_role=st.sampled_from(["end-user", "agent", "admin", ""]),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    comments=comments,
    created=st.integers(-600, 600).map(lambda m: at(0, 0) + timedelta(minutes=m)),
    now=st.integers(0, 4 * 24 * 60).map(lambda m: at(0, 0) + timedelta(minutes=m)),
    severity=st.sampled_from([1, 2, 3, 4, 5]),
    fraction=st.sampled_from([0.0, 0.5, 0.75, 1.0]),
)
def test_first_response_is_todays(
    comments: list[Comment],
    created: datetime,
    now: datetime,
    severity: int,
    fraction: float,
) -> None:
    """The metric gives today's state, due and at-risk instant for any history."""
    first = first_agent_response(comments, requester_id=REQUESTER, self_user_id=SELF)
    today = evaluate(
        created_at=created,
        severity=severity,
        first_response_at=first,
        now=now,
        policy=DEFAULT_POLICY,
        at_risk_fraction=fraction,
    )
    replies = [
        Reply(
            c.created_at,
            author_of(
                author_id=c.author_id,
                role=c.author_role,
                requester_id=REQUESTER,
                self_user_id=SELF,
            ),
            c.public,
        )
        for c in comments
    ]
    (state,) = measure_all(
        created_at=created,
        severity=severity,
        replies=replies,
        statuses=[StatusChange("solved", created)],  # no status stops it
        now=now,
        at_risk_fraction=fraction,
    )
    assert today is not None
    assert (state.state, state.due, state.at_risk_at) == (
        today.status,
        today.due_at,
        today.at_risk_at,
    )
    assert state.cycles[0].stop == first


def test_a_targets_own_at_risk_wins_in_evaluate() -> None:
    """A first-response target with at_risk = 0.5 is at risk at half its time."""
    policy = Policy("p", {2: Target(2 * H, TWENTY_FOUR_SEVEN, at_risk=0.5)})
    state = evaluate(
        created_at=at(0, 10),
        severity=2,
        first_response_at=None,
        now=at(0, 11),
        policy=policy,
        at_risk_fraction=0.75,
    )
    assert state is not None
    assert (state.at_risk_at, state.status) == (at(0, 11), "at_risk")
    assert DEFAULT_POLICY.targets[2].at_risk is None  # the seed's stays as it was
