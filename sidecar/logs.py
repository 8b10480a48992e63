"""Logging as one JSON object per line on stdout.

Fields: ``ts`` (UTC ISO 8601), ``level``, ``logger``, ``msg``, then whatever the
call passed in ``extra`` (``event_id``, ``ticket_id``, ``job_id`` ...). Secrets
never reach here: callers log ids, never credentials, and ``Secret`` renders as
``<SECRET>`` anyway.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

# Attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Format a record as a single-line JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class JsonLineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that formats a record before it takes the handler's lock.

    logging.Handler.handle holds the lock through ``emit``, format included;
    with a web process's threads each logging one line per webhook, the JSON
    encoding under the lock made them queue for it (issue 19: the lock's
    acquire and release were a fifth of an accepted webhook's samples under
    gunicorn). Only the write and the flush need the lock: one line is
    written whole.
    """

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return True
        with self.lock:  # type: ignore[union-attr]  # created by createLock()
            try:
                self.stream.write(line)
                self.flush()
            except Exception:
                self.handleError(record)
        return True


def configure(level: str = "INFO", *, stream: IO[str] | None = None) -> None:
    """Send every log record of this process to stdout as JSON lines."""
    handler = JsonLineHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Huey logs every task execution at INFO; our own lines say what matters.
    logging.getLogger("huey").setLevel(max(root.level, logging.WARNING))
    # HTTP clients log request URLs; a Slack incoming-webhook URL is a credential.
    for name in ("urllib3", "httpx", "httpx2", "httpcore"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
