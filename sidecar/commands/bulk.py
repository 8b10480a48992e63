"""`sidecar replay` and `sidecar backfill`: enqueue reconciles for many tickets."""

from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, date, datetime
from types import FrameType

import click

from sidecar.commands.context import cli_context
from sidecar.domain.plan import may_carry_sla
from sidecar.sla import format_utc
from sidecar.tasks.bulk import (
    DEFAULT_STATUSES,
    STATUSES,
    Backfill,
    BackfillFilter,
    changed_between,
    replay,
)
from sidecar.tasks.handler import fields_from
from sidecar.words import counted
from sidecar.zendesk.budget import BULK, lane


def _moment(text: str, option: str) -> datetime:
    """An ISO 8601 time (a bare date is its UTC midnight); BadParameter otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time like 2026-11-27T06:00:00Z",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        if len(text.strip()) > 10:
            raise click.BadParameter(
                f"{text!r} needs a time zone (Z or +HH:MM)", param_hint=option
            )
        moment = moment.replace(tzinfo=UTC)
    if (
        not datetime(1970, 1, 2, tzinfo=UTC)
        <= moment
        <= datetime(9000, 1, 1, tzinfo=UTC)
    ):
        raise click.BadParameter(f"{text!r} is out of range", param_hint=option)
    return moment


@click.command("replay")
@click.option(
    "--ticket", "tickets", type=int, multiple=True, help="A ticket id (repeat)."
)
@click.option(
    "--since", help="Replay tickets changed at or after this time (ISO 8601)."
)
@click.option("--until", help="... and at or before this time (default: now).")
@click.option("--dry-run", is_flag=True, help="List the tickets; enqueue nothing.")
def replay_command(
    tickets: tuple[int, ...], since: str | None, until: str | None, dry_run: bool
) -> None:
    """Re-enqueue reconciles: for tickets, or for every ticket changed in a time range.

    For the morning after a Zendesk webhook outage. The range is read from the
    incremental ticket export (the last minute is never included by Zendesk).
    """
    if bool(tickets) == bool(since):
        raise click.UsageError(
            "give --ticket ID (repeatable) or --since TIME, not both"
        )
    if until and not since:
        raise click.UsageError("--until needs --since")
    context = cli_context()
    queue = None if dry_run else context.queue()
    if queue is not None:
        click.echo(f"queue: {queue.description}")
    if since:
        start = _moment(since, "--since")
        end = _moment(until, "--until") if until else None
        if end is not None and end < start:
            raise click.BadParameter("--until is before --since", param_hint="--until")
        fields = fields_from(context.config)
        # The export reads spend through the deployment's budget, in the bulk lane.
        zendesk = context.bulk_zendesk(queue or context.service_queue())
        with lane(BULK):
            found = [
                t.id
                for t in changed_between(zendesk, since=start, until=end)
                if may_carry_sla(t, fields)
            ]
        span = f"{format_utc(start)} .. {format_utc(end) if end else 'now'}"
        click.echo(
            f"{counted(len(set(found)), 'ticket')} with an SLA changed in {span}"
        )
    else:
        found = list(tickets)
    done = replay(found, queue, dry_run=dry_run)  # type: ignore[arg-type]
    verb = "would enqueue" if dry_run else "enqueued"
    shown = " ".join(str(t) for t in done[:20]) + (" ..." if len(done) > 20 else "")
    click.echo(
        f"{verb} {counted(len(done), 'reconcile')}{': ' + shown if done else ''}"
    )


def _statuses(text: str) -> tuple[str, ...]:
    chosen = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(STATUSES))
    if not chosen or unknown:
        raise click.BadParameter(
            f"unknown status {', '.join(unknown) or '(none)'}: use {', '.join(STATUSES)}",
            param_hint="--status",
        )
    return chosen


class _Interrupt:
    """Turn the first SIGINT into "stop after this page"; a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def __enter__(self) -> _Interrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@click.command("backfill")
@click.option(
    "--status",
    "status_text",
    default=",".join(DEFAULT_STATUSES),
    show_default=True,
    help="Ticket statuses to reconcile, comma-separated.",
)
@click.option("--org", "org_id", type=int, help="Only this organization's tickets.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only tickets created on or after this UTC date (YYYY-MM-DD).",
)
@click.option(
    "--dry-run", is_flag=True, help="Count what would be enqueued; write nothing."
)
@click.option("--restart", is_flag=True, help="Start over instead of resuming.")
def backfill_command(
    status_text: str,
    org_id: int | None,
    since: datetime | None,
    dry_run: bool,
    restart: bool,
) -> None:
    """Reconcile every matching ticket that was open before the sidecar ran.

    Walks List Tickets (cursor pagination) and enqueues a reconcile per ticket
    at backfill priority, below live traffic. Ctrl-C stops after the current
    page; running the same command again resumes after the last finished page.
    """
    scope = BackfillFilter(
        statuses=_statuses(status_text),
        org_id=org_id,
        since=date(since.year, since.month, since.day) if since else None,
    )
    context = cli_context()
    fields = fields_from(context.config)
    # A dry run only reads: it works away from the service, without a queue.
    queue = context.service_queue() if dry_run else context.queue()
    if queue is not None:
        click.echo(f"queue: {queue.description}")
    # Its page reads spend through the deployment's budget, in the bulk lane.
    job = Backfill(
        context.bulk_zendesk(queue), queue, scope=scope, fields=fields, dry_run=dry_run
    )
    progress = job.load(restart=restart)
    if progress.resumed:
        click.echo(
            f"resuming after page {progress.pages} "
            f"({counted(progress.seen, 'ticket')} read, "
            f"{progress.enqueued} enqueued); --restart starts over"
        )
    report = _Reporter(dry_run=dry_run, start_seen=progress.seen)
    with _Interrupt() as interrupt, lane(BULK):
        try:
            while job.step():
                report.page(
                    job.progress.seen, job.progress.enqueued, job.progress.pages
                )
                if interrupt.requested:
                    break
        finally:
            report.close()
    verb = "would enqueue" if dry_run else "enqueued"
    p = job.progress
    if p.done:
        click.echo(
            f"backfill done: {counted(p.pages, 'page')}, {counted(p.seen, 'ticket')} "
            f"read, {verb} {p.enqueued}"
        )
    else:
        click.echo(
            f"backfill stopped after page {p.pages} ({counted(p.seen, 'ticket')} read, "
            f"{verb} "
            f"{p.enqueued}); run the same command again to resume"
        )
        sys.exit(130)


class _Reporter:
    """A tqdm bar on a terminal, plain progress lines otherwise."""

    def __init__(self, *, dry_run: bool, start_seen: int) -> None:
        self._bar = None
        self._last = start_seen
        self._started = time.monotonic()
        self._start_seen = start_seen
        self._dry_run = dry_run
        if sys.stderr.isatty():
            from tqdm import tqdm  # type: ignore[import-untyped]

            self._bar = tqdm(
                initial=start_seen, unit=" tickets", desc="backfill", file=sys.stderr
            )

    def page(self, seen: int, enqueued: int, pages: int) -> None:
        if self._bar is not None:
            self._bar.update(seen - self._last)
            self._bar.set_postfix(enqueued=enqueued)
        else:
            elapsed = max(time.monotonic() - self._started, 1e-6)
            rate = (seen - self._start_seen) / elapsed * 60
            click.echo(
                f"page {pages}: {counted(seen, 'ticket')} read, {enqueued} "
                f"{'matching' if self._dry_run else 'enqueued'}, {rate:.0f} tickets/min"
            )
        self._last = seen

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


COMMANDS: list[click.Command] = [replay_command, backfill_command]
