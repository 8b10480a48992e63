"""Hold the last good entitlements file for a running process and decide from it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from sidecar.config import Config, Secret
from sidecar.domain.entitlement import (
    ENTERPRISE_SUPPORT_PLANS,
    Entitlement,
    EntitlementsError,
    EntitlementsFile,
    OrgEntitlement,
)
from sidecar.domain.models import Organization
from sidecar.entitlements.decide import decide
from sidecar.entitlements.loader import load_entitlements

log = logging.getLogger("sidecar.entitlements")


class EntitlementsStore:
    """The entitlements in force: the last file that validated, and the field keys.

    A bad file never replaces a good one: :meth:`reload` keeps the previous
    version and returns (and logs) the problems, so a typo pushed to the file
    cannot strip every customer of their SLA.
    """

    def __init__(
        self,
        path: str | Path | None,
        *,
        embedded: bool = False,
        plan_field: str = "support_plan",
        enterprise_field: str = "enterprise_support",
        eligible_plans: Sequence[str] = ENTERPRISE_SUPPORT_PLANS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.embedded = embedded
        self.plan_field = plan_field
        self.enterprise_field = enterprise_field
        self.eligible_plans = tuple(eligible_plans)
        # Resolves the file's env:VARIABLE secrets (None: the process environment).
        self._environ = environ
        self._file = EntitlementsFile()
        self._loaded = path is None  # no file configured: nothing to load
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, config: Config, *, environ: Mapping[str, str] | None = None
    ) -> EntitlementsStore:
        """Build the store and load the file, raising EntitlementsError if it is bad.

        SIDECAR_ENTITLEMENTS_FILE names a standalone file; without it, the
        ``[orgs]`` tables of the SIDECAR_CONFIG file are read, if it has any.
        ``environ`` resolves the file's ``env:VARIABLE`` secrets.
        """
        path, embedded = entitlements_source(config)
        store = cls(
            path,
            embedded=embedded,
            plan_field=config.org_plan_field,
            enterprise_field=config.org_enterprise_field,
            eligible_plans=config.eligible_plans,
            environ=environ,
        )
        if path is not None:
            store.load()
        return store

    @property
    def file(self) -> EntitlementsFile:
        """The entitlements in force (empty when no file is configured)."""
        return self._file

    @property
    def loaded(self) -> bool:
        """True once a good version is in force (or no file is configured)."""
        return self._loaded

    def load(self) -> EntitlementsFile:
        """Read the file and put it in force; raise EntitlementsError if it is bad."""
        if self.path is None:
            return self._file
        with self._lock:
            stamp = _stamp(self.path)
            loaded = load_entitlements(
                self.path,
                embedded=self.embedded,
                environ=self._environ,
                eligible_plans=self.eligible_plans,
            )
            self._file, self._loaded, self._stamp = loaded, True, stamp
        log.info(
            "entitlements loaded",
            extra={"path": self.path, "organizations": len(loaded.orgs)},
        )
        return loaded

    def reload(self) -> list[str]:
        """Read the file again; if bad, keep the last good one and list the problems."""
        try:
            self.load()
        except EntitlementsError as exc:
            kept = (
                "keeping the last good version"
                if self._loaded
                else "no good version yet: Zendesk fields only"
            )
            log.error(
                "entitlements file rejected, %s",
                kept,
                extra={"path": self.path, "problems": exc.problems},
            )
            return [*exc.problems, f"the file was rejected as a whole; {kept}"]
        return []

    def reload_if_changed(self) -> list[str]:
        """Reload when the file's size or modification time changed since last read."""
        if self.path is None or _stamp(self.path) == self._stamp:
            return []
        return self.reload()

    def routing_keys(self) -> list[Secret]:
        """Every organization's own PagerDuty routing key in the file in force."""
        return [
            entry.pagerduty_routing_key
            for entry in self._file.orgs
            if entry.pagerduty_routing_key is not None
        ]

    def entry_for(self, org: Organization) -> OrgEntitlement | None:
        """Find the organization's entry: by id, then by external id."""
        return self._file.lookup(org_id=org.id, external_id=org.external_id)

    def for_org(self, org: Organization | None, *, today: date) -> Entitlement:
        """Decide the organization's entitlement today from Zendesk and the file."""
        entry = self.entry_for(org) if org is not None else None
        return decide(
            org,
            entry,
            today=today,
            plan_field=self.plan_field,
            enterprise_field=self.enterprise_field,
            eligible_plans=self.eligible_plans,
        )


def entitlements_source(config: Config) -> tuple[str | None, bool]:
    """Return (path, embedded): where the entitlements live for this config."""
    if config.entitlements_file:
        return config.entitlements_file, False
    if config.config_file:
        return config.config_file, True
    return None, False


def _stamp(path: str) -> tuple[int, int] | None:
    # Size as well as mtime: two saves within the clock's resolution still differ.
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
