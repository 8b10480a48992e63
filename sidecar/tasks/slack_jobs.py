"""The Slack app's jobs on the durable queue: create a ticket, add a comment, follow a ticket.

Everything that touches Zendesk on behalf of Slack runs here, in the worker,
like every webhook's work: the web answers Slack within its 3 seconds once the
job is stored. Three jobs:

- ``slack_create(request)``: a modal submission becomes a ticket (found again,
  not duplicated, when it already exists);
- ``slack_comment(message)``: a customer's reply in the thread becomes a public
  comment on the ticket;
- ``slack_sync(ticket_id)``: the thread hears what happened to the ticket
  (opened with its due time, on-call paged, the first agent reply, breached,
  solved), each once.

They run on the worker's one runner (sidecar.tasks.worker.Runner), as every
job kind does: the error decides (retry with backoff, wait for budget or a
429 without spending an attempt, drop, dead-letter to ``sidecar jobs
failed``), a killed worker's job comes back from its in-flight record, and
each attempt counts in ``sidecar_jobs_total``. This module registers its own Huey tasks so that the
queue and worker modules only need to call :func:`register`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from huey.api import Task, TaskWrapper

from sidecar.errors import ConfigError
from sidecar.slack.blocks import MessageRef, TicketRequest
from sidecar.tasks.job_family import JobFamily
from sidecar.tasks.jobs import SLACK_COMMENT, SLACK_CREATE, SLACK_JOBS, SLACK_SYNC

if TYPE_CHECKING:
    from sidecar.tasks.queue import JobQueue

log = logging.getLogger("sidecar.slack")

CREATE, COMMENT, SYNC = SLACK_CREATE, SLACK_COMMENT, SLACK_SYNC
JOB_NAMES = SLACK_JOBS
# Jobs whose argument is a payload, not an id: their dead letters keep it, so
# `sidecar jobs retry` can enqueue them again.
PAYLOAD_JOBS = frozenset({CREATE, COMMENT})
# Slack's retries and a second click on "Create ticket" carry the same message:
# one job per message for as long as the queue keeps claims (7 days); after
# that the external id lookup still finds the ticket.
CREATE_KEY = "slack_ticket:{channel}:{ts}"
COMMENT_KEY = "slack_message:{channel}:{ts}"
# While a sync waits in the queue, more changes need no second one: the job
# reads the ticket as it is when it runs. The job frees the claim when it starts.
SYNC_QUEUED_KEY = "slack_sync:{ticket_id}"
SYNC_QUEUED_SECONDS = 600.0


class Handlers(Protocol):
    """What the worker process does for each Slack job (sidecar.tasks.slack_bridge)."""

    def create_ticket(self, request: TicketRequest) -> None: ...
    def add_comment(self, message: Mapping[str, Any]) -> None: ...
    def follow(self, ticket_id: int) -> None: ...


def request_to_payload(request: TicketRequest) -> dict[str, Any]:
    """A ticket request as plain JSON-able data for the queue."""
    return asdict(request)


def request_from_payload(payload: Mapping[str, Any]) -> TicketRequest:
    """Rebuild a ticket request from :func:`request_to_payload`'s data."""
    message = dict(payload["message"])
    return TicketRequest(
        message=MessageRef(**message),
        severity=int(payload["severity"]),
        subject=str(payload["subject"]),
        description=str(payload["description"]),
        submitted_by=str(payload["submitted_by"]),
        team=payload.get("team"),
    )


class SlackJobs(JobFamily[Handlers]):
    """The Slack jobs registered on one queue, and the handlers this process runs them with."""

    def __init__(self, queue: JobQueue) -> None:
        super().__init__(
            queue,
            missing=lambda: ConfigError(
                "a Slack job reached a worker without the Slack app: set "
                "SIDECAR_SLACK_SIGNING_SECRET and SIDECAR_SLACK_BOT_TOKEN"
            ),
        )
        huey = queue.huey

        def slack_create(
            payload: dict[str, Any],
            task: Task,
            attempt: int = 1,
            first_failure: str | None = None,
        ) -> None:
            self.run(
                CREATE,
                lambda h: h.create_ticket(request_from_payload(payload)),
                task=task,
                attempt=attempt,
                first_failure=first_failure,
            )

        def slack_comment(
            payload: dict[str, Any],
            task: Task,
            attempt: int = 1,
            first_failure: str | None = None,
        ) -> None:
            self.run(
                COMMENT,
                lambda h: h.add_comment(payload),
                task=task,
                attempt=attempt,
                first_failure=first_failure,
            )

        def slack_sync(
            ticket_id: int,
            task: Task,
            attempt: int = 1,
            first_failure: str | None = None,
        ) -> None:
            if attempt == 1:
                # Free the "sync queued" claim first: a change from now on
                # schedules another sync, which will see it.
                queue.release(SYNC_QUEUED_KEY.format(ticket_id=ticket_id))
            self.run(
                SYNC,
                lambda h: h.follow(ticket_id),
                task=task,
                attempt=attempt,
                first_failure=first_failure,
                ticket_id=ticket_id,
            )

        # Called, not used as decorators: huey's decorators are untyped, and
        # would make these functions untyped for mypy.
        self.create: TaskWrapper = huey.task(context=True, name=CREATE)(slack_create)
        self.comment: TaskWrapper = huey.task(context=True, name=COMMENT)(slack_comment)
        self.sync: TaskWrapper = huey.task(context=True, name=SYNC)(slack_sync)

    # --- the web side (and the reconciler) submit ---------------------------------

    def submit_create(self, request: TicketRequest) -> bool:
        """Store the create job unless this message already has one; False if it had."""
        key = CREATE_KEY.format(channel=request.message.channel, ts=request.message.ts)
        return self._queue.submit_task(
            self.create.s(request_to_payload(request)), dedup_key=key
        )

    def submit_comment(self, message: Mapping[str, Any]) -> bool:
        """Store the comment job unless this Slack message already has one."""
        key = COMMENT_KEY.format(channel=message["channel"], ts=message["ts"])
        return self._queue.submit_task(self.comment.s(dict(message)), dedup_key=key)

    def schedule_sync(self, ticket_id: int) -> bool:
        """Store slack_sync(ticket_id) unless one is already waiting; False if one was.

        The claim ``slack_sync:<ticket>`` and the job are one write
        (JobQueue.submit_unless_waiting): a process killed at any instant
        leaves both or neither, never a claim that skips the thread's syncs for
        ten minutes while no sync waits.
        """
        key = SYNC_QUEUED_KEY.format(ticket_id=int(ticket_id))
        return self._queue.submit_unless_waiting(
            self.sync.s(int(ticket_id)),
            waiting_key=key,
            ttl_seconds=SYNC_QUEUED_SECONDS,
        )

    def by_name(self, name: str) -> TaskWrapper:
        """The task called ``name`` (one of JOB_NAMES), for `sidecar jobs retry`."""
        tasks = {CREATE: self.create, COMMENT: self.comment, SYNC: self.sync}
        return tasks[name]


def register(queue: JobQueue) -> SlackJobs:
    """Register the Slack jobs on the queue's Huey (every process does, web and worker)."""
    return SlackJobs(queue)


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:500]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
