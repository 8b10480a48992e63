"""Write a file of secrets (KEY=VALUE lines) so that only its owner can ever read it.

`sidecar zendesk setup --env-file` keeps the webhook signing secrets there;
the service never reads it: the platform puts its lines into the environment
(README, "Connecting Zendesk with one command"), as with every other secret.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in a new file of mode 0600.

    Written beside the target and renamed over it: a file that was
    world-readable before never holds the secrets, and a crash leaves the old
    file whole.
    """
    directory = path.resolve().parent
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)  # mkstemp already makes 0600; say it, umask aside
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def git_exposure(path: Path) -> str | None:
    """Say why ``path`` could end up in a git commit, or None if it cannot.

    True when the file lies inside a git work tree and git does not ignore it.
    Without git (not installed, not a repository) there is nothing to say.
    """
    git = shutil.which("git")
    if git is None:
        return None
    directory = path.resolve().parent
    try:
        top = subprocess.run(
            [git, "rev-parse", "--show-toplevel"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if top.returncode != 0:
            return None  # not inside a work tree
        ignored = subprocess.run(
            [git, "check-ignore", "-q", "--no-index", str(path.resolve())],
            cwd=directory,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if ignored.returncode == 0:
        return None
    return (
        f"{path} holds signing secrets and lies in the git work tree "
        f"{top.stdout.strip()} without being ignored: add it to .gitignore "
        "(or keep it outside the repository) before any `git add`"
    )
