"""What every fault-suite scenario shares: fakes, tickets, the signed burst, the oracle.

A scenario builds a :class:`World` (FakeZendesk with short rate-limit windows and
FakePagerDuty, an entitled and a plain organization, an agent, a mix of
tickets), starts the real processes with :class:`Service` (gunicorn and
separate ``sidecar worker`` processes, as deployed), sends the burst with
:func:`send`, and waits with :func:`wait_until_right` until every ticket
carries what it should. Every write the fake Zendesk accepts fires the echo
webhook Zendesk's trigger would send (as in tests/e2e), so our own writes are
part of the load.

The oracle (:meth:`World.check`) is written from the policy's published
semantics, not from the sidecar's planner: the FAST_POLICY of tests/e2e runs
every severity around the clock, so a due time is creation + target, at risk
at 75 % of it, met when the first public agent reply is at or before it. A
ticket is **lost** when its final state lacks the SLA fields and the one status
tag it should carry (or carries some it should not), or when an entitled SEV 1/2
ticket lacks exactly one ``oncall_paged`` marker (tag + one private note) and
one open PagerDuty incident.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sidecar.tasks.queue import JobQueue
from sidecar.tasks.sweep import CURSOR_FLAG
from tests.e2e.conftest import (
    DUE_AT_FIELD,
    DUE_DATE_FIELD,
    ROUTING_KEY,
    SEVERITY_FIELD,
    SEVERITY_PLACEHOLDER,
    connected_env,
    define_fields,
)
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import SUBDOMAIN, FakeZendesk, WriteEvent
from tests.support import (
    Process,
    http,
    signed_headers,
    start_gunicorn,
    start_worker,
)

# Rate-limit windows of the fakes and of the sidecar's budget: Zendesk's and
# PagerDuty's minute scaled down to a second, so a burst meets the limits in seconds.
WINDOW_SECONDS = 1.0
ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
MARKER = "<!-- bench/fault_suite.py adds rows below -->"

# tests/e2e/conftest.py FAST_POLICY: every severity 24/7, so due = created + target.
TARGET_SECONDS = {1: 3600, 2: 7200, 3: 6 * 3600, 4: 8, 5: 24 * 3600}
AT_RISK_FRACTION = 0.75  # SIDECAR_AT_RISK_FRACTION's default
# A status flip is due within the scheduler's one-second tick plus a queue wait:
# near a flip instant the oracle accepts the status on either side of it.
FLIP_GRACE = timedelta(seconds=3)
STATUS_TAGS = {
    "pending": "sla_pending",
    "at_risk": "sla_at_risk",
    "breached": "sla_breached",
    "met": "sla_met",
}
PAGED_TAG = "oncall_paged"
PAGING = frozenset({1, 2})
# The ticket mix: (share, entitled, severity). Entitled tickets of every
# severity, a plain-plan organization's tickets, and entitled ones without one.
MIX: Sequence[tuple[float, bool, int | None]] = (
    (0.05, True, 1),
    (0.10, True, 2),
    (0.35, True, 3),
    (0.20, True, 4),
    (0.15, True, 5),
    (0.10, False, 2),
    (0.05, True, None),
)
REPLY_SHARE = 0.15  # entitled SEV 3-5 tickets an agent answers during the burst
RAISE_SHARE = 0.10  # entitled SEV 3 tickets raised to SEV 2 during the burst
DUPLICATE_SHARE = 0.2  # deliveries that repeat an earlier one of the same ticket


def fmt(moment: datetime) -> str:
    """UTC ISO 8601 with a Z, seconds precision (the due-time field's format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dedup_key(ticket_id: int) -> str:
    """The PagerDuty dedup key a ticket's page must carry (docs/decisions.md)."""
    return f"zendesk-{SUBDOMAIN}-ticket-{ticket_id}"


def machine() -> str:
    """The machine, for the recorded row."""
    return f"{os.cpu_count()} cores, Python {platform.python_version()}"


# --- the world: fake upstreams and tickets ---------------------------------------


@dataclass
class TicketSpec:
    """One ticket of the burst: whose it is and what the burst will do to it."""

    id: int
    entitled: bool
    severity: int | None
    reply: bool = False  # an agent answers during the burst
    raise_to: int | None = None  # the severity is raised during the burst


@dataclass
class Delivery:
    """One signed webhook delivery (duplicates share bytes or an invocation id)."""

    ticket_id: int
    body: bytes
    headers: dict[str, str]
    duplicate: bool = False
    action: Callable[[], None] | None = None  # the change the delivery announces


@dataclass
class Verdict:
    """What the oracle found, by ticket id."""

    checked: int
    lost: list[int]
    unpaged: list[int]
    double_incidents: int  # dedup keys with more than one incident
    spurious_pages: list[int]  # paged although they should not be
    extra_notes: list[int]  # more than one page note

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing paged wrongly or twice."""
        return not (
            self.lost
            or self.unpaged
            or self.double_incidents
            or self.spurious_pages
            or self.extra_notes
        )


class World:
    """The fake Zendesk and PagerDuty, the tickets, and the oracle over them."""

    def __init__(
        self,
        zendesk: FakeZendesk,
        pagerduty: FakePagerDuty,
        *,
        seed: int = 9,
    ) -> None:
        self.zendesk = zendesk
        self.pagerduty = pagerduty
        self.rng = random.Random(seed)
        define_fields(zendesk)
        self.entitled_org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        self.plain_org = zendesk.add_org(
            name="Small Shop",
            fields={"support_plan": "team", "enterprise_support": False},
        )
        self.agent = zendesk.add_user(role="agent", name="Agent Smith")
        self.tickets: dict[int, TicketSpec] = {}
        self._lock = threading.Lock()
        self._urls: list[str] = []
        self._secret = ""
        self._echo_count = 0
        self.echo_statuses: Counter[int] = Counter()
        self._payloads: dict[int, set[str]] = defaultdict(set)
        self.writes = 0
        self.noop_writes = 0
        self.repeated_writes = 0
        self.zendesk.on_write(self._on_write)

    # population

    def add_ticket(self, *, entitled: bool, severity: int | None) -> TicketSpec:
        """Create one ticket in the fake and remember what it should become."""
        fields = {SEVERITY_FIELD: f"sev_{severity}"} if severity is not None else {}
        org = self.entitled_org if entitled else self.plain_org
        tid = self.zendesk.add_ticket(organization_id=org, custom_fields=fields)
        spec = TicketSpec(tid, entitled, severity)
        with self._lock:
            self.tickets[tid] = spec
        return spec

    def populate(self, count: int) -> None:
        """Create ``count`` tickets in the MIX, some to be answered or raised."""
        shares = [share for share, _, _ in MIX]
        for _ in range(count):
            _, entitled, severity = self.rng.choices(MIX, weights=shares)[0]
            spec = self.add_ticket(entitled=entitled, severity=severity)
            if entitled and severity in (3, 4, 5) and self.rng.random() < REPLY_SHARE:
                spec.reply = True
            elif entitled and severity == 3 and self.rng.random() < RAISE_SHARE:
                spec.raise_to = 2

    def rendered(self, ticket_id: int) -> dict[str, str]:
        """The organization and severity parts of setup's trigger body, rendered now."""
        org, severity = (
            self.zendesk.render_trigger_body(part, ticket_id)
            for part in ("{{ticket.organization.id}}", SEVERITY_PLACEHOLDER)
        )
        return {"organization_id": org, "severity": severity}

    def action(self, spec: TicketSpec) -> Callable[[], None] | None:
        """The agent change a delivery of this ticket announces, if any."""
        if spec.reply:
            return lambda: self.zendesk.add_comment(spec.id, self.agent, public=True)
        if spec.raise_to is not None:
            value = f"sev_{spec.raise_to}"
            return lambda: self.zendesk.update_ticket(
                spec.id, custom_fields={SEVERITY_FIELD: value}
            )
        return None

    def deliveries(self, count: int, *, secret: str) -> list[Delivery]:
        """``count`` signed deliveries over every ticket, duplicates included, shuffled.

        Each ticket gets about count / tickets deliveries. A duplicate repeats an
        earlier delivery of its ticket: half exactly (a captured replay, same
        signature), half as Zendesk's retry of the same invocation (same
        invocation id, signed anew). Each distinct delivery has its own body (the
        trigger body's ``updated_at`` moves with every change), and the agent
        change it announces (a reply, a raised severity) is made just before it
        is sent.
        """
        ids = sorted(self.tickets)
        signed_at = datetime.now(UTC).replace(microsecond=0)
        stamp, restamp = fmt(signed_at), fmt(signed_at + timedelta(seconds=1))
        out: list[Delivery] = []
        for n, tid in enumerate(ids):
            spec = self.tickets[tid]
            share = count // len(ids) + (1 if n < count % len(ids) else 0)
            own: list[Delivery] = []
            for k in range(share):
                if own and self.rng.random() < DUPLICATE_SHARE:
                    original = self.rng.choice([d for d in own if not d.duplicate])
                    headers = dict(original.headers)
                    if self.rng.random() < 0.5:  # Zendesk's retry: signed again
                        headers = signed_headers(
                            original.body,
                            secret=secret,
                            timestamp=restamp,
                            invocation_id=original.headers[
                                "X-Zendesk-Webhook-Invocation-Id"
                            ],
                        )
                    own.append(Delivery(tid, original.body, headers, duplicate=True))
                    continue
                body = json.dumps(
                    {
                        "ticket_id": str(tid),
                        "event": "ticket.changed",
                        "updated_at": f"{stamp}#{k}",
                        # As rendered when the burst was planned: a raised
                        # severity's deliveries may name the old one (a hint).
                        **self.rendered(tid),
                    }
                ).encode()
                headers = signed_headers(
                    body, secret=secret, timestamp=stamp, invocation_id=uuid.uuid4().hex
                )
                own.append(Delivery(tid, body, headers))
            # The first delivery announces the ticket, the next one its change.
            distinct = [d for d in own if not d.duplicate]
            if distinct:
                distinct[min(1, len(distinct) - 1)].action = self.action(spec)
            out.extend(own)
        self.rng.shuffle(out)
        return out

    # echoes and the write log

    def connect(self, urls: Sequence[str], secret: str) -> None:
        """From now on each accepted write fires its echo webhook at ``urls``."""
        with self._lock:
            self._urls = list(urls)
            self._secret = secret

    def _on_write(self, event: WriteEvent) -> None:
        if event.resource != "ticket":
            return
        ticket = event.body.get("ticket") if isinstance(event.body, dict) else None
        shown = {
            k: v
            for k, v in (ticket or {}).items()
            if k not in {"updated_stamp", "safe_update"}
        }
        key = json.dumps(shown, sort_keys=True, default=str)
        with self._lock:
            self.writes += 1
            if not event.changed:
                self.noop_writes += 1
            elif key in self._payloads[event.id]:
                self.repeated_writes += 1
            self._payloads[event.id].add(key)
            urls, secret = self._urls, self._secret
            self._echo_count += 1
            n = self._echo_count
        if not event.changed or not urls:
            return
        # Zendesk's trigger fires after every update that changed the ticket,
        # rendering its body from the ticket as it is now.
        body = json.dumps(
            {
                "ticket_id": str(event.id),
                "event": "ticket.changed",
                "updated_at": self.zendesk.ticket(event.id).updated_at,
                **self.rendered(event.id),
            }
        ).encode()
        headers = signed_headers(
            body, secret=secret, invocation_id=f"echo-{uuid.uuid4().hex}"
        )
        status = _post(urls[n % len(urls)], body, headers)
        with self._lock:
            self.echo_statuses[status] += 1

    @property
    def double_writes(self) -> int:
        """Accepted writes that changed nothing or repeated an earlier write's change."""
        return self.noop_writes + self.repeated_writes

    # the oracle

    def check(self, now: datetime | None = None) -> Verdict:
        """Compare every ticket with what it should carry now."""
        now = now or datetime.now(UTC)
        incidents: dict[str, list[Any]] = defaultdict(list)
        for incident in self.pagerduty.incidents():
            incidents[incident.dedup_key].append(incident)
        with self._lock:
            specs = list(self.tickets.values())
        lost, unpaged, spurious, extra = [], [], [], []
        for spec in specs:
            ticket = self.zendesk.ticket(spec.id)
            comments = self.zendesk.comments(spec.id)
            severity = _severity(ticket.custom_fields.get(SEVERITY_FIELD))
            notes = [
                c
                for c in comments
                if not c.public and c.author_id == self.zendesk.api_user_id
            ]
            opened = incidents.get(dedup_key(spec.id), [])
            sla_ok = self._sla_right(spec, ticket, comments, severity, now)
            if spec.entitled and severity in PAGING:
                paged = (
                    PAGED_TAG in ticket.tags
                    and len(notes) == 1
                    and len(opened) == 1
                    and opened[0].open
                )
                if PAGED_TAG not in ticket.tags or not any(i.open for i in opened):
                    unpaged.append(spec.id)
                if len(notes) > 1:
                    extra.append(spec.id)
                if not (sla_ok and paged):
                    lost.append(spec.id)
            else:
                if PAGED_TAG in ticket.tags or notes or opened:
                    spurious.append(spec.id)
                if not sla_ok:
                    lost.append(spec.id)
        doubles = sum(1 for found in incidents.values() if len(found) > 1)
        return Verdict(len(specs), lost, unpaged, doubles, spurious, extra)

    def _sla_right(
        self,
        spec: TicketSpec,
        ticket: Any,
        comments: Sequence[Any],
        severity: int | None,
        now: datetime,
    ) -> bool:
        tags = ticket.tags & set(STATUS_TAGS.values())
        due_text = ticket.custom_fields.get(DUE_AT_FIELD)
        due_date = ticket.custom_fields.get(DUE_DATE_FIELD)
        if not spec.entitled or severity is None:
            return not tags and not due_text and not due_date
        created = datetime.fromisoformat(ticket.created_at)
        target = timedelta(seconds=TARGET_SECONDS[severity])
        due = created + target
        replies = sorted(
            datetime.fromisoformat(c.created_at)
            for c in comments[1:]
            if c.public and c.author_id == self.agent
        )
        if replies:
            allowed = {"met" if replies[0] <= due else "breached"}
            if abs(replies[0] - due) <= FLIP_GRACE:
                # A reply stamped (to the second) with the due instant may come
                # after the due timer recorded the breach, which then stands.
                allowed.add("breached")
        else:
            allowed = {
                _status(created, target, moment) for moment in (now, now - FLIP_GRACE)
            }
        return (
            due_text == fmt(due)
            and due_date == due.date().isoformat()
            and len(tags) == 1
            and next(iter(tags)) in {STATUS_TAGS[s] for s in allowed}
        )

    def explain(self, ticket_id: int) -> str:
        """What a ticket carries against what it should (for a lost ticket's note)."""
        spec = self.tickets[ticket_id]
        ticket = self.zendesk.ticket(ticket_id)
        fields = {
            "severity": ticket.custom_fields.get(SEVERITY_FIELD),
            "due_at": ticket.custom_fields.get(DUE_AT_FIELD),
            "due_date": ticket.custom_fields.get(DUE_DATE_FIELD),
        }
        replies = [
            c.created_at
            for c in self.zendesk.comments(ticket_id)[1:]
            if c.public and c.author_id == self.agent
        ]
        incidents = [
            i.status
            for i in self.pagerduty.incidents()
            if i.dedup_key == dedup_key(ticket_id)
        ]
        return (
            f"#{ticket_id} entitled={spec.entitled} created={ticket.created_at} "
            f"{fields} tags={sorted(ticket.tags)} replies={replies} "
            f"incidents={incidents}"
        )


def _severity(value: Any) -> int | None:
    match = re.fullmatch(r"sev_([1-5])", str(value or ""))
    return int(match.group(1)) if match else None


def _status(created: datetime, target: timedelta, now: datetime) -> str:
    if now >= created + target:
        return "breached"
    if now >= created + target * AT_RISK_FRACTION:
        return "at_risk"
    return "pending"


@contextlib.contextmanager
def fakes(
    *, zendesk_options: dict[str, Any] | None = None
) -> Iterator[tuple[FakeZendesk, FakePagerDuty]]:
    """The strict fakes with one-second rate-limit windows (limits × 60 faster)."""
    options: dict[str, Any] = {"rate_window_seconds": WINDOW_SECONDS}
    options.update(zendesk_options or {})
    with (
        FakeZendesk(**options) as zendesk,
        FakePagerDuty(
            routing_keys=[ROUTING_KEY], window_seconds=WINDOW_SECONDS
        ) as pagerduty,
    ):
        yield zendesk, pagerduty


def environment(
    workdir: Path,
    world: World,
    *,
    queue_url: str | None = None,
    **overrides: str,
) -> dict[str, str]:
    """The sidecar's environment: connected to the fakes, with FAST_POLICY.

    The API-budget governor keeps its default shares over a one-second window,
    like the fakes' limits: every limit runs 60 times faster than Zendesk's.
    """
    settings = {"SIDECAR_ZENDESK_BUDGET_WINDOW": str(WINDOW_SECONDS), **overrides}
    if queue_url is not None:
        settings["SIDECAR_QUEUE_URL"] = queue_url
    return connected_env(workdir, world.zendesk, world.pagerduty, **settings)


def open_queue(env: dict[str, str], *, started: datetime) -> JobQueue:
    """The service's queue, with the sweep cursor at ``started``.

    A running deployment's sweep reads only what changed since its last run; a
    fresh one would first reconcile every ticket of the last hour, which is a
    different measurement (the backfill's). The cursor is the fake export's
    ``<epoch>:<id>``; tickets created after ``started`` are in the sweep's view.
    """
    queue = JobQueue.from_url(env["SIDECAR_QUEUE_URL"])
    queue.set_flag(CURSOR_FLAG, f"{int(started.timestamp())}:0")
    return queue


# --- the running service -----------------------------------------------------------


class Service:
    """gunicorn process(es) and separate `sidecar worker` processes, killable."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        *,
        webs: int = 1,
        web_concurrency: int = 2,
        workers: int = 1,
        worker_threads: int = 4,
    ) -> None:
        self.env = dict(env, WEB_CONCURRENCY=str(web_concurrency))
        self.cwd = cwd
        self._webs = webs
        self._worker_count = workers
        self.worker_threads = worker_threads
        self._stack = contextlib.ExitStack()
        self.web: list[Process] = []
        self.workers: list[Process] = []
        self.every_worker: list[Process] = []  # killed ones too, for their logs
        self.kills = 0

    def __enter__(self) -> Service:
        try:
            for _ in range(self._webs):
                self.web.append(
                    self._stack.enter_context(start_gunicorn(self.env, cwd=self.cwd))
                )
            for _ in range(self._worker_count):
                self.workers.append(self._start_worker())
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._keep_logs()
        finally:
            self._stack.close()

    def _keep_logs(self) -> None:
        # FAULT_SUITE_LOGS=dir keeps every process's output, to see where a ticket went.
        folder = os.environ.get("FAULT_SUITE_LOGS")
        if not folder:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        for kind, procs in (("web", self.web), ("worker", self.every_worker)):
            for n, proc in enumerate(procs):
                (Path(folder) / f"{kind}-{n}.log").write_text(proc.output())

    @property
    def urls(self) -> list[str]:
        """The base URL of every web process."""
        return [web.url for web in self.web]

    def _start_worker(self) -> Process:
        proc = self._stack.enter_context(
            start_worker(self.env, workers=self.worker_threads, cwd=self.cwd)
        )
        self.every_worker.append(proc)
        return proc

    def kill_worker(self, index: int = 0) -> None:
        """SIGKILL one worker process (no graceful stop, jobs in flight lost)."""
        self.workers[index].stop(sig=signal.SIGKILL)
        self.kills += 1

    def restart_worker(self, index: int = 0) -> None:
        """Start a new worker process in the killed one's place."""
        self.workers[index] = self._start_worker()

    def worker_logs(self) -> list[dict[str, Any]]:
        """The JSON log lines of every worker process started so far."""
        return [entry for proc in self.every_worker for entry in proc.json_logs()]

    def pids(self) -> dict[str, list[int]]:
        """Process ids: each gunicorn master and its workers, each queue worker."""
        web = []
        for proc in self.web:
            web.append(proc.popen.pid)
            web.extend(_children(proc.popen.pid))
        return {"web": web, "worker": [p.popen.pid for p in self.workers]}


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(x) for x in task.read_text().split())
    return found


def rss_kib(pids: Sequence[int]) -> int:
    """Resident set size of these processes together, from /proc (KiB)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


# --- sending -------------------------------------------------------------------------


@dataclass
class Ingest:
    """How the burst was received."""

    sent: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    resent: int = 0  # deliveries tried again after a 5xx or a connection error
    duplicates: int = 0  # deliveries that repeat another (should be answered 200)

    @property
    def rate(self) -> float:
        """Deliveries answered per second."""
        return self.sent / self.seconds if self.seconds else 0.0


def _post(base_url: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        return http(
            "POST",
            base_url + "/webhooks/zendesk",
            body=body,
            headers=headers,
            timeout=10.0,  # Zendesk's patience
        )[0]
    except OSError:
        return 0


def send(
    deliveries: Sequence[Delivery],
    urls: Sequence[str],
    *,
    concurrency: int = 8,
    progress: Callable[[int], None] | None = None,
) -> Ingest:
    """Send the deliveries ``concurrency`` at a time, round robin over ``urls``.

    Like Zendesk, a delivery answered 5xx (or not at all) is sent again (up to
    5 times, 0.2 s apart); ``progress(n)`` is called after the n-th answer.
    """
    ingest = Ingest()
    lock = threading.Lock()
    answered = [0]

    def deliver(item: tuple[int, Delivery]) -> None:
        n, delivery = item
        if delivery.action is not None:
            delivery.action()
        status = 0
        for attempt in range(5):
            status = _post(
                urls[(n + attempt) % len(urls)], delivery.body, delivery.headers
            )
            if 0 < status < 500:
                break
            with lock:
                ingest.resent += 1
            time.sleep(0.2)
        with lock:
            ingest.statuses[status] += 1
            answered[0] += 1
            count = answered[0]
        if progress is not None:
            progress(count)

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(deliver, enumerate(deliveries)))
    ingest.seconds = time.monotonic() - started
    ingest.sent = len(deliveries)
    return ingest


def send_one(urls: Sequence[str], world: World, ticket_id: int) -> int:
    """Send one distinct trigger delivery for a ticket (a fresh change)."""
    body = json.dumps(
        {
            "ticket_id": str(ticket_id),
            "event": "ticket.changed",
            "updated_at": world.zendesk.ticket(ticket_id).updated_at,
            **world.rendered(ticket_id),
            "delivery": uuid.uuid4().hex,
        }
    ).encode()
    headers = signed_headers(body, secret=world._secret, invocation_id=uuid.uuid4().hex)
    return _post(urls[0], body, headers)


# --- waiting and figures ------------------------------------------------------------


def wait_until_right(
    world: World, queue: JobQueue, *, started: float, deadline: float
) -> float | None:
    """Seconds from ``started`` (monotonic) until every ticket is right and no job waits.

    None when that did not happen within ``deadline`` seconds of ``started``.
    """
    while True:
        if queue.depth() == 0 and world.check().clean:
            return time.monotonic() - started
        if time.monotonic() - started > deadline:
            return None
        time.sleep(0.5)


def api_figures(world: World) -> dict[str, Any]:
    """Zendesk calls per ticket, by kind, and PagerDuty requests."""
    kinds: Counter[str] = Counter()
    for call in world.zendesk.calls():
        if call.method == "PUT" and "/tickets/" in call.path:
            kinds["writes"] += 1
        elif call.path.endswith("/comments.json"):
            kinds["comment reads"] += 1
        elif re.fullmatch(r"/api/v2/tickets/\d+\.json", call.path):
            kinds["ticket reads"] += 1
        else:
            kinds["other"] += 1
    tickets = max(1, len(world.tickets))
    total = sum(kinds.values())
    per = ", ".join(f"{k} {v / tickets:.2f}" for k, v in sorted(kinds.items()))
    return {
        "API calls/ticket": f"{total / tickets:.2f} ({per})",
        "PagerDuty requests": world.pagerduty.request_count,
        "triggers/paged ticket": _triggers_per_page(world),
    }


def _triggers_per_page(world: World) -> str:
    triggers = world.pagerduty.triggers()
    keys = {t["dedup_key"] for t in triggers}
    return f"{len(triggers) / len(keys):.2f}" if keys else "-"


def worker_figures(service: Service, queue: JobQueue) -> dict[str, Any]:
    """Retries and dead letters, from the workers' logs and the queue."""
    logs = service.worker_logs()
    retries = sum(1 for e in logs if "retrying in" in str(e.get("msg", "")))
    recovered = sum(1 for e in logs if "escalation job lost" in str(e.get("msg", "")))
    failed = Counter(
        f"{job.task} after {job.attempts}: {job.error.split(':')[0]}"
        for job in queue.failed_jobs()
    )
    dead = ", ".join(f"{k} ×{n}" for k, n in sorted(failed.items()))
    return {
        "retries": retries,
        "dead letters": f"{sum(failed.values())} ({dead})" if failed else 0,
        "escalations recovered": recovered,
    }


@dataclass
class Result:
    """One scenario's figures; ``lost``... are what the tests assert on."""

    scenario: str
    quick: bool
    load: str
    figures: dict[str, Any]
    lost: int = 0
    unpaged: int = 0
    double_incidents: int = 0
    double_writes: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one summary line a scenario prints."""
        mode = "quick" if self.quick else "full"
        shown = "; ".join(f"{k} {v}" for k, v in self.figures.items())
        return f"fault_suite {self.scenario} ({mode}): {self.load}: {shown}"


def verdict_figures(world: World, verdict: Verdict) -> dict[str, Any]:
    """The correctness figures of a final check."""
    return {
        "lost": len(verdict.lost),
        "unpaged": len(verdict.unpaged),
        "incidents opened twice": verdict.double_incidents,
        "paged wrongly": len(verdict.spurious_pages),
        "page notes twice": len(verdict.extra_notes),
        "double writes": world.double_writes,
    }


def result_from(
    scenario: str,
    quick: bool,
    load: str,
    figures: dict[str, Any],
    world: World,
    verdict: Verdict,
) -> Result:
    """A Result whose figures end with the final check's."""
    figures = {**figures, **verdict_figures(world, verdict)}
    result = Result(
        scenario,
        quick,
        load,
        figures,
        lost=len(verdict.lost),
        unpaged=len(verdict.unpaged),
        double_incidents=verdict.double_incidents,
        double_writes=world.double_writes,
    )
    if verdict.lost:
        result.notes.append(f"lost tickets (first 10): {verdict.lost[:10]}")
        result.notes.extend(world.explain(tid) for tid in verdict.lost[:3])
    return result


def record(result: Result) -> None:
    """Append the result as a dated row to the fault-suite table of docs/benchmarks.md."""
    text = BENCHMARKS.read_text()
    start = text.find(MARKER)
    if start < 0:
        raise SystemExit(f"{BENCHMARKS}: no {MARKER!r} table to add the row to")
    lines = text[start:].split("\n")
    end = 1
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    figures = "; ".join(f"{k} {v}" for k, v in result.figures.items())
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d} | {result.scenario} | "
        f"{'quick' if result.quick else 'full'} | {machine()} | {result.load} | "
        f"{figures} |"
    )
    lines.insert(end, row)
    BENCHMARKS.write_text(text[:start] + "\n".join(lines))
