"""`sidecar jobs pending|scheduled|failed|retry`: what waits in the queue, and dead letters.

Every command first names the queue it opened, and none creates one: run from
a directory without the service's SQLite queue, it says so instead of
reporting on a new, empty file.
"""

from __future__ import annotations

from collections import Counter

import click

from sidecar.commands.context import SidecarGroup, cli_context
from sidecar.sla import format_utc
from sidecar.tasks.queue import JobQueue, QueuedJob
from sidecar.words import counted
from sidecar.zendesk.budget import shares_from

DEFAULT_LIMIT = 50


def open_queue() -> JobQueue:
    """Open the service's queue (never a new one) and say which it is."""
    queue = cli_context().queue()
    click.echo(f"queue: {queue.description}")
    return queue


@click.group(cls=SidecarGroup, invoke_without_command=True)
@click.pass_context
def jobs(ctx: click.Context) -> None:
    """Inspect the queue: what is left (alone), pending, scheduled, failed jobs, retry."""
    if ctx.invoked_subcommand is not None:
        return
    # Alone: what is left, as the runbook's "drain the queue" step asks.
    queue = open_queue()
    scheduled_jobs = queue.scheduled_jobs()
    failed_jobs = queue.failed_jobs()
    _show(
        queue.pending_jobs(DEFAULT_LIMIT),
        queue.depth(),
        what="pending",
        limit=DEFAULT_LIMIT,
    )
    click.echo(
        f"{counted(len(scheduled_jobs), 'scheduled job')} (`sidecar jobs scheduled`), "
        f"{counted(len(failed_jobs), 'failed job')} (`sidecar jobs failed`)"
    )


def _subject(task: str) -> str:
    return "organization" if task == "refresh_org" else "ticket"


def _show(found: list[QueuedJob], total: int, *, what: str, limit: int) -> None:
    if not found:
        click.echo(f"no {what} jobs")
        return
    by_task = Counter(job.task for job in found)
    for job in found:
        when = f"  at {format_utc(job.eta)}" if job.eta is not None else ""
        subject = (
            f" {_subject(job.task)} {job.subject_id}"
            if job.subject_id is not None
            else ""
        )
        attempt = f"  attempt {job.attempt}" if job.attempt > 1 else ""
        priority = f"  priority {job.priority}" if job.priority else ""
        click.echo(f"{job.job_id}  {job.task}{subject}{when}{attempt}{priority}")
    shown = ", ".join(f"{n} {task}" for task, n in sorted(by_task.items()))
    more = f" (first {limit} shown; --limit to see more)" if total > len(found) else ""
    click.echo(f"{counted(total, what + ' job')}{more}: {shown}")


@jobs.command()
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, help="Jobs to list.")
def pending(limit: int) -> None:
    """List jobs ready to run, in the order workers take them."""
    queue = open_queue()
    _show(queue.pending_jobs(limit), queue.depth(), what="pending", limit=limit)


@jobs.command()
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, help="Jobs to list.")
def scheduled(limit: int) -> None:
    """List jobs waiting for their time (SLA timers, retry delays), soonest first."""
    queue = open_queue()
    found = queue.scheduled_jobs()
    _show(found[:limit], len(found), what="scheduled", limit=limit)


@jobs.command()
def failed() -> None:
    """List dead-lettered jobs (id, ticket, attempts, first/last failure, error)."""
    failed_jobs = open_queue().failed_jobs()
    if not failed_jobs:
        click.echo("no failed jobs")
        return
    for job in failed_jobs:
        # A Slack create/comment job is about a message, not an id.
        subject = f" {_subject(job.task)} {job.ticket_id}" if job.ticket_id else ""
        click.echo(
            f"{job.job_id}  {job.task}{subject}  "
            f"attempts {job.attempts}  first {job.first_failure_at}  "
            f"last {job.last_failure_at}  {job.error}"
        )


@jobs.command()
@click.argument("job_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed job.")
def retry(job_id: str | None, retry_all: bool) -> None:
    """Re-enqueue one dead-lettered job by ID, or all of them with --all."""
    if bool(job_id) == retry_all:
        raise click.UsageError("give a job ID or --all (not both)")
    queue = open_queue()
    if retry_all:
        click.echo(f"re-enqueued {counted(queue.retry_all_failed(), 'job')}")
        left = queue.failed_jobs()
        if left:
            click.echo(
                f"{counted(len(left), 'job')} cannot be retried (`sidecar jobs retry ID` "
                "says why); `sidecar jobs failed` lists them"
            )
    elif queue.retry_failed(job_id or ""):
        click.echo(f"re-enqueued {job_id}")
    else:
        raise click.ClickException(f"no failed job {job_id}")


@click.command()
def budget() -> None:
    """Show how much of its Zendesk API budget the deployment uses in the current window."""
    queue = open_queue()
    config = cli_context().config
    budget = queue.budget(shares_from(config))
    use, bulk = budget.usage(), budget.bulk_usage()
    window = f"{config.budget_window_seconds:g} s"
    click.echo(
        f"window: {window}; reserve for SEV 1/2 work: {config.budget_reserve:.0%}; "
        f"backfill and replay: at most {config.budget_bulk:.0%} of the rest"
    )
    for pool, (used, allowed) in sorted(use.items()):
        share = used / allowed if allowed else 0.0
        bulk_used, bulk_allowed = bulk[pool]
        click.echo(
            f"{pool}: {used} of {allowed} per {window} ({share:.0%}); "
            f"backfill and replay {bulk_used} of their {bulk_allowed}"
        )


COMMANDS = [jobs, budget]
