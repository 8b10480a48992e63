"""PagerDuty's answers on the durable queue: one ``pagerduty_event`` job per incident event.

The web side (sidecar.webhooks.pagerduty) verifies a V3 webhook, finds the
ticket, and stores the event as a job under a claim on its ``event.id``, in
one write (a redelivery finds the claim and changes nothing). The worker runs
it on its one runner (sidecar.tasks.worker.Runner), as every job kind: the
error decides (retry with backoff, wait for the Zendesk budget without
spending an attempt, drop, dead-letter to ``sidecar jobs failed`` with the
event kept so ``sidecar jobs retry`` can run it again), a killed worker's job
comes back from its in-flight record, each attempt counts in
``sidecar_jobs_total{job="pagerduty_event"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from huey.api import Task, TaskWrapper

from sidecar.domain.oncall import IncidentEvent
from sidecar.errors import ConfigError
from sidecar.tasks.job_family import JobFamily
from sidecar.tasks.jobs import ONCALL_JOBS, PAGERDUTY_EVENT

if TYPE_CHECKING:
    from sidecar.tasks.queue import JobQueue

JOB_NAMES = ONCALL_JOBS
# The claim on an event's id lives as long as every webhook claim (7 days,
# sidecar.tasks.queue.CLAIM_TTL_SECONDS; Redis expires it, SQLite prunes it):
# far longer than PagerDuty's retries (about 20 minutes) and than the
# receiver's window for ``occurred_at`` (an hour by default), so a redelivery
# or a replay is either refused as stale or finds its claim.
EVENT_KEY = "pagerduty_event:{event_id}"


class Handlers(Protocol):
    """What the worker does with an incident event (sidecar.tasks.oncall_back)."""

    def apply(self, ticket_id: int, event: IncidentEvent) -> None: ...


class OncallJobs(JobFamily[Handlers]):
    """The ``pagerduty_event`` job on one queue, and the handler this process runs it with."""

    def __init__(self, queue: JobQueue) -> None:
        super().__init__(
            queue,
            missing=lambda: ConfigError(
                "a pagerduty_event job reached a process without its handler "
                "(sidecar worker builds it; is this a web process?)"
            ),
        )

        # The payload comes first: a dead letter keeps a job whose first
        # argument is not an id, so `sidecar jobs retry` can run it again.
        def pagerduty_event(
            payload: dict[str, Any],
            task: Task,
            attempt: int = 1,
            first_failure: str | None = None,
        ) -> None:
            ticket_id = int(payload["ticket_id"])
            event = IncidentEvent.from_payload(payload["event"])
            self.run(
                PAGERDUTY_EVENT,
                lambda handlers: handlers.apply(ticket_id, event),
                task=task,
                attempt=attempt,
                first_failure=first_failure,
                ticket_id=ticket_id,
            )

        # Called, not used as a decorator: huey's decorators are untyped.
        self.event: TaskWrapper = queue.huey.task(context=True, name=PAGERDUTY_EVENT)(
            pagerduty_event
        )

    def submit(self, ticket_id: int, event: IncidentEvent) -> bool:
        """Store the event's job unless its id was claimed before; False for a redelivery."""
        return self._queue.submit_task(
            self.event.s({"ticket_id": int(ticket_id), "event": event.to_payload()}),
            dedup_key=EVENT_KEY.format(event_id=event.event_id),
        )

    def by_name(self, name: str) -> TaskWrapper:
        """The task called ``name`` (one of JOB_NAMES), for `sidecar jobs retry`."""
        return {PAGERDUTY_EVENT: self.event}[name]


def register(queue: JobQueue) -> OncallJobs:
    """Register the job on the queue's Huey (every process does, web and worker)."""
    return OncallJobs(queue)
