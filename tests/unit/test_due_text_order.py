"""The due-time text the views sort by orders tickets as their due instants do."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from sidecar.sla.schedule import format_utc

MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(9999, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=30))]
    ),
)


def natural_key(text: str) -> list[object]:
    """A "natural" sort: digit runs compared as numbers."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


@given(moments=st.lists(MOMENTS, min_size=2, max_size=30))
@example(
    moments=[
        datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 12, 7, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 6, 9, 0, tzinfo=UTC),
    ]
)
def test_text_order_is_time_order_under_any_left_to_right_collation(
    moments: list[datetime],
) -> None:
    """Byte order, case-folded, punctuation-blind and natural sorts all give time order.

    To the second: a due time carries microseconds only after a sub-second
    target, and two of those within one second may come in either order.
    """
    texts = [format_utc(m) for m in moments]
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", t) for t in texts
    )
    for key in (None, str.casefold, lambda t: re.sub(r"\W", "", t), natural_key):
        seconds = [
            datetime.fromisoformat(t).replace(microsecond=0)
            for t in sorted(texts, key=key)  # type: ignore[arg-type]
        ]
        assert seconds == sorted(seconds)
