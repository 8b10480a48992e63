"""The report's reading side against the Zendesk double over HTTP: metric sets, pacing, 429s."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from sidecar.report.source import ExportReader, Progress
from sidecar.zendesk.client import ZendeskClient
from tests.fake_zendesk import FakeZendesk

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CREATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SEV = 360001


class Clock:
    """Monotonic seconds that only move when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextlib.contextmanager
def account(clock: Clock, **options: Any) -> Iterator[FakeZendesk]:
    """Five tickets, one answered after 42 minutes; pages of two."""
    now = [NOW]
    with FakeZendesk(
        clock=lambda: now[0], export_page_size=2, rate_clock=clock, **options
    ) as fake:
        agent = fake.add_user(role="agent")
        for i in range(5):
            tid = fake.add_ticket(
                created_at=CREATED + timedelta(hours=i),
                organization_id=None,
                custom_fields={SEV: "sev_3"},
            )
            if i == 0:
                fake.add_comment(tid, agent, at=CREATED + timedelta(minutes=42))
        now[0] += timedelta(minutes=5)  # the export leaves out the last minute
        yield fake


@pytest.fixture
def zendesk(clock: Clock) -> Iterator[FakeZendesk]:
    """The account with Zendesk's own export limit (10 requests a minute)."""
    with account(clock) as fake:
        yield fake


@pytest.mark.parametrize("placement", ["ticket", "root"])
def test_metric_sets_are_read_wherever_the_export_puts_them(
    zendesk: FakeZendesk, placement: str
) -> None:
    """Embedded per ticket or as a root array: the same metric sets, by ticket id."""
    zendesk.metric_sets_placement = placement
    zendesk.drop_metric_set(5)
    with ZendeskClient.from_config(zendesk.config()) as client:
        first = client.export_tickets_with_metrics(start_time=int(CREATED.timestamp()))
        assert [t.id for t in first.tickets] == [
            2,
            3,
        ]  # ticket 1 was updated by its reply
        assert first.metric_sets[2].reply_minutes_calendar is None
        assert first.metric_sets[2].replies == 0
        rest = [first]
        while not rest[-1].end_of_stream:
            rest.append(
                client.export_tickets_with_metrics(cursor=rest[-1].after_cursor)
            )
    sets = {tid: m for page in rest for tid, m in page.metric_sets.items()}
    assert sets[1].reply_minutes_calendar == 42 and sets[1].replies == 1
    assert 5 not in sets and {1, 2, 3, 4} <= set(sets)
    exports = zendesk.calls(method="GET", path_contains="/incremental/tickets/cursor")
    assert all(call.query.get("include") == "metric_sets" for call in exports)


def test_the_reader_waits_out_a_429_and_reads_everything(clock: Clock) -> None:
    """Three pages against a limit of two a minute: the third waits for Retry-After."""
    stream = io.StringIO()
    with (
        account(clock, export_requests_per_window=2) as zendesk,
        ZendeskClient.from_config(zendesk.config()) as client,
    ):
        reader = ExportReader(
            client,
            min_interval=0,
            progress=Progress(stream, enabled=True),
            sleep=clock.sleep,
            monotonic=clock,
        )
        ids = [t.id for t, _ in reader.tickets(CREATED)]
    assert sorted(ids) == [1, 2, 3, 4, 5]
    assert reader.stats.rate_limited >= 1 and reader.stats.pages == 3
    assert any(s >= 1 for s in clock.slept)  # the Retry-After the double announced
    assert "waiting" in stream.getvalue() and "rate limited" in stream.getvalue()


def test_the_reader_paces_its_requests(zendesk: FakeZendesk, clock: Clock) -> None:
    with ZendeskClient.from_config(zendesk.config()) as client:
        reader = ExportReader(
            client, min_interval=7.5, sleep=clock.sleep, monotonic=clock
        )
        list(reader.tickets(CREATED))
    assert clock.slept == [7.5, 7.5]  # three pages, two gaps
    assert reader.stats.rate_limited == 0


def test_progress_is_silent_off_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.show("read 1 ticket")
    progress.done()
    assert stream.getvalue() == ""


def _env(zendesk: FakeZendesk, **extra: str) -> dict[str, str]:
    return {**zendesk.env(), "SIDECAR_SEVERITY_FIELD_ID": str(SEV), **extra}


def test_cli_refuses_what_it_cannot_do_with_a_clear_error(zendesk: FakeZendesk) -> None:
    runner = CliRunner()
    no_field = runner.invoke(
        main, ["report", "--since", "2026-11-01"], env=zendesk.env()
    )
    assert no_field.exit_code == 1 and "SIDECAR_SEVERITY_FIELD_ID" in no_field.output
    zendesk.add_org(7, name="Acme")
    zendesk.add_org(8, name="acme")
    unknown = runner.invoke(
        main,
        ["report", "--since", "2026-11-01", "--org", "Initech", "--pace", "0"],
        env=_env(zendesk),
    )
    assert unknown.exit_code == 1 and "no such organization" in unknown.output
    twice = runner.invoke(
        main,
        ["report", "--since", "2026-11-01", "--org", "ACME", "--pace", "0"],
        env=_env(zendesk),
    )
    assert twice.exit_code == 1 and "7, 8" in twice.output
    future = runner.invoke(main, ["report", "--since", "2099-01-01"], env=_env(zendesk))
    assert future.exit_code == 2 and "empty or in the future" in future.output
    bad = runner.invoke(
        main, ["report", "--since", "2026-11-01", "--out", "x.pdf"], env=_env(zendesk)
    )
    assert bad.exit_code == 2 and "--format" in bad.output
