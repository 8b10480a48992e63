"""What every `sidecar` command builds on: one configuration, one error translation.

The configuration is read once per invocation, from the environment, into the
root click context's object (:class:`CliContext`); the adapters a command needs
(Zendesk client, queue, policy, entitlements) are built from it on first use
and closed when the command ends. A :class:`SidecarError` raised anywhere under
a :class:`SidecarGroup` becomes a one-line ``click.ClickException`` there and
nowhere else (flaskr's ``create_app`` builds the web app's world the same way).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import click

from sidecar.config import Config
from sidecar.entitlements import EntitlementsStore
from sidecar.errors import ConfigError, QueueUnavailable, SidecarError
from sidecar.queue.backend import sqlite_path
from sidecar.sla import Policy
from sidecar.tasks.handler import configured_policy_source
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.schedules import AccountSchedules, PolicySource, ScheduleStore
from sidecar.zendesk.budget import shares_from
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.schedules import fetch_business_hours

F = TypeVar("F", bound=Callable[..., Any])

NOT_CONNECTED = (
    "not connected to Zendesk: set SIDECAR_ZENDESK_SUBDOMAIN and "
    "SIDECAR_ZENDESK_EMAIL + SIDECAR_ZENDESK_API_TOKEN "
    "(or SIDECAR_ZENDESK_OAUTH_TOKEN)"
)


class CliContext:
    """The world of one CLI invocation: the Config and the adapters built from it."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._closers: list[Callable[[], None]] = []

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment the configuration is read from."""
        return self._environ

    @cached_property
    def config(self) -> Config:
        """The configuration, read from the environment (and SIDECAR_CONFIG) once."""
        return Config.from_env(self._environ)

    def require_zendesk(self) -> None:
        """Raise ConfigError saying what to set when there are no Zendesk credentials."""
        if not self.config.zendesk_connected:
            raise ConfigError(NOT_CONNECTED)

    def zendesk(self) -> ZendeskClient:
        """A Zendesk client (closed when the command ends); ConfigError if unconnected."""
        self.require_zendesk()
        client = ZendeskClient.from_config(self.config)
        self._closers.append(client.close)
        return client

    def bulk_zendesk(self, queue: JobQueue | None) -> ZendeskClient:
        """A client for bulk reads (backfill, replay, what-if) that spends through the budget.

        The deployment's Zendesk budget is counted in the service's queue
        store; run the calls in ``lane(BULK)``. Without the queue at hand
        (``None``: a what-if or dry run away from the service) the client is
        unmetered, as every hand-run tool was before the budget existed.
        """
        self.require_zendesk()
        budget = queue.budget(shares_from(self.config)) if queue is not None else None
        client = ZendeskClient.from_config(self.config, budget=budget)
        self._closers.append(client.close)
        return client

    def service_queue(self) -> JobQueue | None:
        """The service's queue if it is here and answers (never creates one), else None.

        For the commands that only read (explain, dry runs, what-if): they work
        without any queue, and say on stderr what they did without.
        """
        url = self.config.queue_url
        missing = _missing_sqlite(url)
        try:
            if missing is not None:
                raise ConfigError(f"no queue at {missing} (SIDECAR_QUEUE_URL={url})")
            queue = self.queue()  # pings it
        except SidecarError as exc:
            said = str(exc).rstrip(".")
            said += "" if said.endswith("?") else "."
            click.echo(
                f"note: {said} Going on without the queue: Zendesk reads are not "
                "counted in the deployment's budget.",
                err=True,
            )
            return None
        return queue

    def queue(self, *, create: bool = False) -> JobQueue:
        """Open the configured queue; only ``create`` (serve, worker) may make a new one.

        A command run from another directory than the service would otherwise
        open (and create) a fresh ``sidecar-queue.db`` there: it would report
        "nothing" about a queue that is not the service's, or enqueue into a
        file no worker reads.
        """
        url = self.config.queue_url
        missing = None if create else _missing_sqlite(url)
        if missing is not None:
            raise ConfigError(
                f"no queue at {missing} (SIDECAR_QUEUE_URL={url}): "
                "the service creates it when `sidecar serve` or `sidecar worker` "
                "starts; run this where the service runs, or set "
                "SIDECAR_QUEUE_URL to the service's queue (e.g. "
                "sqlite:////srv/sidecar/sidecar-queue.db or redis://host:6379/0)"
            )
        queue = JobQueue.from_url(url)
        self._closers.append(queue.close)
        if not create:
            # Say it in one line now, not as a traceback from the first command.
            try:
                queue.ping()
            except QueueUnavailable as exc:
                raise QueueUnavailable(
                    f"the queue {queue.description} does not answer "
                    f"({str(exc).removeprefix('queue ping failed: ').rstrip('.')}): "
                    "is it running, and is SIDECAR_QUEUE_URL the service's queue?"
                ) from None
        return queue

    @cached_property
    def schedules(self) -> AccountSchedules:
        """The account's Zendesk schedules, as the service has them.

        The last good copy in the service's queue store when there is one (what
        the worker computes with), else read from Zendesk (when connected).
        """
        return self.account_schedules(prefer_stored=True)

    def account_schedules(self, *, prefer_stored: bool) -> AccountSchedules:
        """The account's Zendesk schedules; without ``prefer_stored``, Zendesk first.

        A command never writes the service's copy.
        """
        fetch = (
            (lambda: fetch_business_hours(self.zendesk()))
            if self.config.zendesk_connected
            else None
        )
        return AccountSchedules(
            fetch=fetch,
            store=self._quiet_queue,
            save=False,
            prefer_stored=prefer_stored,
            account=self.config.zendesk_subdomain or "",
        )

    def _quiet_queue(self) -> ScheduleStore | None:
        if not hasattr(self, "_schedule_store"):
            try:
                self._schedule_store: ScheduleStore | None = self.queue()
            except SidecarError:
                self._schedule_store = None
        return self._schedule_store

    @cached_property
    def policy_source(self) -> PolicySource:
        """The configured policy file, with the Zendesk schedules it names."""
        return configured_policy_source(self.config, schedules=self.schedules)

    @cached_property
    def policy(self) -> Policy:
        """The SLA policy in force (the built-in default when none is configured)."""
        return self.policy_source.policy()

    @cached_property
    def entitlements(self) -> EntitlementsStore:
        """The entitlements store, its file loaded and validated."""
        return EntitlementsStore.from_config(self.config)

    def close(self) -> None:
        """Close what the command opened, newest first."""
        while self._closers:
            self._closers.pop()()


def _missing_sqlite(url: str) -> Path | None:
    """The absolute path of the SQLite queue ``url`` names, if that file is missing."""
    if not url.strip().lower().startswith("sqlite:"):
        return None
    path = sqlite_path(url.strip())
    return None if path.exists() else path.resolve()


def cli_context() -> CliContext:
    """Return the invocation's CliContext, building it on the root context once."""
    root = click.get_current_context().find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext(os.environ)
        root.call_on_close(root.obj.close)
    return root.obj


class _BadInputError(click.ClickException):
    """Bad input: exit status 2, one line on stderr."""

    exit_code = 2


class SidecarGroup(click.Group):
    """A command group that turns every SidecarError below it into a CLI error.

    ``error_class`` decides the exit status of such an error: 1, or 2 where
    every error is bad input (the `sla` and `policy` commands).
    """

    error_class: type[click.ClickException] = click.ClickException

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SidecarError as exc:
            raise self.error_class(str(exc)) from None


class BadInputGroup(SidecarGroup):
    """A group whose errors are all bad input: exit status 2."""

    error_class = _BadInputError


def queue_description(queue: JobQueue) -> str:
    """Name the queue a command opened, for the first line of its output."""
    return f"queue: {queue.description}"


def existing_file(path: str) -> Path:
    """Return ``path`` as a Path; ConfigError naming it when it does not exist."""
    found = Path(path)
    if not found.is_file():
        raise ConfigError(f"{path}: no such file")
    return found
