"""sidecar.logs: one JSON line per record, encoded outside the handler's lock."""

from __future__ import annotations

import io
import json
import logging
import threading

from sidecar.logs import JsonFormatter, JsonLineHandler


def test_records_are_encoded_before_the_lock_is_taken() -> None:
    """The JSON encoding runs without the handler's lock; only the write holds it (issue 19)."""
    stream = io.StringIO()
    handler = JsonLineHandler(stream)
    held_while_formatting: list[bool] = []

    class Spy(JsonFormatter):
        def format(self, record: logging.LogRecord) -> str:
            lock = handler.lock
            assert lock is not None
            # An RLock held by this thread can be taken again: ask another thread.
            free = threading.Event()

            def probe() -> None:
                if lock.acquire(blocking=False):
                    lock.release()
                    free.set()

            thread = threading.Thread(target=probe)
            thread.start()
            thread.join()
            held_while_formatting.append(not free.is_set())
            return super().format(record)

    handler.setFormatter(Spy())
    logger = logging.getLogger("sidecar.test_log_lines")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("webhook %s", "queued", extra={"ticket_id": 7})
    finally:
        logger.removeHandler(handler)
    assert held_while_formatting == [False]
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert (entry["msg"], entry["ticket_id"], entry["level"]) == (
        "webhook queued",
        7,
        "warning",
    )


def test_many_threads_write_whole_lines() -> None:
    stream = io.StringIO()
    handler = JsonLineHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sidecar.test_log_lines.threads")
    logger.addHandler(handler)
    logger.propagate = False

    def burst(n: int) -> None:
        for i in range(200):
            logger.warning("line", extra={"writer": n, "i": i, "pad": "x" * 500})

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1600
    assert {(e["writer"], e["i"]) for e in map(json.loads, lines)} == {
        (n, i) for n in range(8) for i in range(200)
    }


def test_a_record_that_cannot_be_formatted_does_not_raise() -> None:
    stream = io.StringIO()
    handler = JsonLineHandler(stream)
    handler.setFormatter(JsonFormatter())
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("one",), None)
    raise_exceptions = logging.raiseExceptions
    logging.raiseExceptions = False  # as in production: handleError stays quiet
    try:
        assert handler.handle(record) is True
    finally:
        logging.raiseExceptions = raise_exceptions
    assert stream.getvalue() == ""
