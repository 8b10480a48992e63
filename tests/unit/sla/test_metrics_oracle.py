"""Every metric against the minute-stepping oracle, on random histories and schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sidecar.sla import TWENTY_FOUR_SEVEN, Schedule
from sidecar.sla.metrics import Reply, StatusChange, measure
from sidecar.sla.policy import METRICS, PAUSABLE_STATUSES, Target
from tests.unit.sla.cases import ALL_DAYS, REFERENCES, SCHEDULES
from tests.unit.sla.metrics_oracle import Event, Oracle
from tests.unit.sla.reference import ReferenceClock

MINUTE = timedelta(minutes=1)
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kolkata",
)
# Starts near the 2026 DST transitions of the zones above, and anywhere.
_ANCHORS = [
    datetime(2026, 3, 8, 6, tzinfo=UTC),
    datetime(2026, 3, 29, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, tzinfo=UTC),
    datetime(2026, 10, 25, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 5, tzinfo=UTC),
    datetime(2026, 12, 24, 12, tzinfo=UTC),
]


@st.composite
def random_schedule(draw: st.DrawFn) -> tuple[Schedule, ReferenceClock | None]:
    """A named case, 24/7, or random windows in a random zone with holidays."""
    kind = draw(st.sampled_from(["case", "24/7", "random"]))
    if kind == "case":
        name = draw(st.sampled_from(sorted(SCHEDULES)))
        return SCHEDULES[name], REFERENCES[name]
    if kind == "24/7":
        return TWENTY_FOUR_SEVEN, None
    zone = draw(st.sampled_from(ZONES))
    texts: dict[str, list[str]] = {}
    plain: dict[int, list[tuple[int, int]]] = {}
    for index, day in enumerate(ALL_DAYS):
        if not draw(st.booleans()) and index not in (0, 3):
            continue
        # Opens 04:00-12:00, 30 min to 16 h long: may cross midnight, never
        # into the next day's window.
        start = draw(st.integers(16, 48)) * 15
        length = draw(st.integers(2, 64)) * 15
        end = start + length
        texts[day] = [
            f"{start // 60:02d}:{start % 60:02d}-{end // 60 % 24:02d}:{end % 60:02d}"
        ]
        plain[index] = [(start * 60, end * 60)]
    holidays = frozenset(
        date(2026, 1, 1) + timedelta(days=d)
        for d in draw(st.lists(st.integers(60, 364), max_size=6))
    )
    schedule = Schedule("random", timezone=zone, windows=texts, holidays=holidays)
    return schedule, ReferenceClock(timezone=zone, windows=plain, holidays=holidays)


# Weighted so that customer turns, answers and updates are common.
AUTHORS = st.sampled_from(["end-user", "end-user", "agent", "agent", "system"])
PUBLIC = st.sampled_from([True, True, True, False])
STATUSES = st.sampled_from(["new", "open", "pending", "hold", "solved", "closed"])


@st.composite
def histories(
    draw: st.DrawFn,
) -> tuple[datetime, list[Event], list[Event], datetime]:
    """A ticket's creation, replies, status changes and now, all on whole minutes."""
    anchor = draw(st.sampled_from(_ANCHORS))
    created = anchor + MINUTE * draw(st.integers(-3 * 1440, 3 * 1440))
    replies = [Event(created, draw(AUTHORS), True)]  # the description
    statuses: list[Event] = []
    moment = created
    for _ in range(draw(st.integers(0, 12))):
        moment += MINUTE * draw(st.integers(0, 600))
        if draw(st.integers(0, 2)):
            replies.append(Event(moment, draw(AUTHORS), draw(PUBLIC)))
        else:
            statuses.append(Event(moment, status=draw(STATUSES)))
    now = moment + MINUTE * draw(st.integers(0, 1500))
    return created, replies, statuses, now


def _engine(name: str, target: Target, history: tuple) -> object:
    created, replies, statuses, now = history
    return measure(
        name,
        target,
        created_at=created,
        replies=[Reply(r.at, r.author, r.public) for r in replies],
        statuses=[StatusChange(s.status, s.at) for s in statuses],
        now=now,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(METRICS),
    schedule=random_schedule(),
    history=histories(),
    minutes=st.integers(1, 120).map(lambda m: 4 * m),
    fraction=st.sampled_from([0.5, 0.75, 1.0]),
    pause=st.frozensets(st.sampled_from(PAUSABLE_STATUSES)),
)
@example(  # a pending stretch inside a resolution clock across the NY spring gap
    name="resolution",
    schedule=(SCHEDULES["ny-night"], REFERENCES["ny-night"]),
    history=(
        datetime(2026, 3, 7, 20, tzinfo=UTC),
        [Event(datetime(2026, 3, 7, 20, tzinfo=UTC), "end-user", True)],
        [
            Event(datetime(2026, 3, 8, 3, tzinfo=UTC), status="pending"),
            Event(datetime(2026, 3, 8, 6, 50, tzinfo=UTC), status="open"),
        ],
        datetime(2026, 3, 9, tzinfo=UTC),
    ),
    minutes=120,
    fraction=0.75,
    pause=frozenset({"pending"}),
)
def test_every_metric_matches_the_oracle(
    name: str,
    schedule: tuple[Schedule, ReferenceClock | None],
    history: tuple,
    minutes: int,
    fraction: float,
    pause: frozenset[str],
) -> None:
    """State, due instant and every cycle agree with minute stepping."""
    engine_schedule, clock = schedule
    if name == "first_response":
        pause = frozenset()
    target = Target(minutes * MINUTE, engine_schedule, at_risk=fraction, pause=pause)
    got = _engine(name, target, history)
    created, replies, statuses, now = history
    oracle = Oracle(clock, created=created, replies=replies, statuses=statuses, now=now)
    state, due, runs = oracle.state(name, minutes, int(minutes * fraction), set(pause))
    assert [(c.start, c.stop, c.due, c.state) for c in got.cycles] == [
        (r.start, r.stop, r.due, r.state) for r in runs
    ]
    assert (got.state, got.due) == (state, due)
