"""`sidecar jobs failed` and `sidecar jobs retry`: the dead-letter queue."""

from __future__ import annotations

import os

import click

from sidecar.config import Config
from sidecar.errors import SidecarError
from sidecar.tasks.queue import JobQueue


def _queue() -> JobQueue:
    try:
        return JobQueue.from_url(Config.from_env(os.environ).queue_url)
    except SidecarError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def jobs() -> None:
    """Inspect and retry jobs (reconcile, escalate) that exhausted their retries."""


@jobs.command()
def failed() -> None:
    """List dead-lettered jobs (id, ticket, attempts, first/last failure, error)."""
    try:
        failed_jobs = _queue().failed_jobs()
    except SidecarError as exc:
        raise click.ClickException(str(exc)) from None
    if not failed_jobs:
        click.echo("no failed jobs")
        return
    for job in failed_jobs:
        subject = "organization" if job.task == "refresh_org" else "ticket"
        click.echo(
            f"{job.job_id}  {job.task} {subject} {job.ticket_id}  attempts {job.attempts}  "
            f"first {job.first_failure_at}  last {job.last_failure_at}  {job.error}"
        )


@jobs.command()
@click.argument("job_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed job.")
def retry(job_id: str | None, retry_all: bool) -> None:
    """Re-enqueue one dead-lettered job by ID, or all of them with --all."""
    if bool(job_id) == retry_all:
        raise click.UsageError("give a job ID or --all (not both)")
    try:
        queue = _queue()
        if retry_all:
            click.echo(f"re-enqueued {queue.retry_all_failed()} job(s)")
        elif queue.retry_failed(job_id or ""):
            click.echo(f"re-enqueued {job_id}")
        else:
            raise click.ClickException(f"no failed job {job_id}")
    except SidecarError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS = [jobs]
