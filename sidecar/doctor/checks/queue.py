"""The queue the service uses."""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.doctor.checks.lines import Line, fail, ok, warn

QUEUE = "queue"
# Ready jobs older than this mean no worker is taking them.
STALE_READY_SECONDS = 300.0


@dataclass(frozen=True)
class QueueState:
    """What the queue said (``error`` set when it could not be opened or read)."""

    where: str
    error: str | None = None
    depth: int = 0
    scheduled: int = 0
    dead_letters: int = 0
    oldest_ready_age: float | None = None  # seconds, over both lanes
    # (service, when) for each service whose refusal of our credentials a job
    # recorded (the ``<service>_auth_failed`` flags), not yet cleared.
    refused: tuple[tuple[str, str], ...] = ()


def check_queue(state: QueueState) -> list[Line]:
    """Reachable, the one the service uses, its depth, dead letters and oldest job."""
    if state.error is not None:
        return [
            fail(
                QUEUE,
                "reachable",
                state.error
                if state.where.split(" ", 1)[-1] in state.error
                else f"{state.where}: {state.error}",
                "run doctor where the service runs (its working directory), or set "
                "SIDECAR_QUEUE_URL to the service's queue and check it is up",
            )
        ]
    lines = [
        ok(QUEUE, "reachable", state.where),
        ok(QUEUE, "depth", f"{state.depth} ready, {state.scheduled} scheduled"),
    ]
    age = state.oldest_ready_age
    if age is None:
        lines.append(ok(QUEUE, "oldest job", "no job waiting"))
    elif age >= STALE_READY_SECONDS:
        lines.append(
            warn(
                QUEUE,
                "oldest job",
                f"ready for {_duration(age)}: no worker is taking jobs",
                "start or restart `sidecar worker` (or `sidecar serve`) on this queue",
            )
        )
    else:
        lines.append(ok(QUEUE, "oldest job", f"ready for {_duration(age)}"))
    if state.dead_letters:
        lines.append(
            warn(
                QUEUE,
                "dead letters",
                f"{state.dead_letters} job(s) exhausted their retries",
                "read them with `sidecar jobs failed`, fix the cause, then "
                "`sidecar jobs retry --all`",
            )
        )
    else:
        lines.append(ok(QUEUE, "dead letters", "none"))
    for service, since in state.refused:
        lines.append(
            warn(
                QUEUE,
                "credentials",
                f"{service} refused our credentials ({since}); its jobs are dead-lettered",
                f"fix the {service} credentials, then `sidecar jobs retry --all`: "
                "the flag clears when the next job gets through",
            )
        )
    return lines


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
