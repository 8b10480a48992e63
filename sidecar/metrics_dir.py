"""The directory prometheus_client's multiprocess mode shares between processes.

gunicorn runs several worker processes; each keeps its own counters, and a scrape
reaches one of them. prometheus_client sums them only when every process writes
its values to files in ``PROMETHEUS_MULTIPROC_DIR``, and it decides that when it
is first imported. So the process that forks the others (the gunicorn master,
`sidecar serve`) sets the variable before anything imports prometheus_client,
and removes the directory it created when it exits. Nobody has to set it; an
operator who does (a volume, to keep counters over a master restart) owns it,
and only its stale files are cleared at start.

stdlib only, on purpose: importing prometheus_client here would fix its mode
in the gunicorn master before the variable is set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Make sure ``environ`` names a usable multiprocess directory.

    Returns the directory when it was created here (the caller removes it with
    :func:`remove` when its processes are gone), None when the operator set one.
    An operator's directory is created if missing and cleared of the files a
    previous run left, which would otherwise add old counts to the new ones.
    """
    given = environ.get(ENV, "").strip()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        return None
    created = Path(tempfile.mkdtemp(prefix="sidecar-metrics-"))
    environ[ENV] = str(created)
    return created


def remove(path: Path | None) -> None:
    """Remove a directory :func:`ensure` created (None: nothing to do)."""
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def enabled(environ: MutableMapping[str, str] = os.environ) -> bool:
    """True when this process shares its metrics through the directory."""
    return bool(environ.get(ENV, "").strip())
