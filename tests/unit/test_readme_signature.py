"""The README's copy-paste signed delivery computes the signature the receiver verifies."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sidecar.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

README = (Path(__file__).parents[2] / "README.md").read_text()
SECRET = "dGhpcyBpcyBub3QgYmFzZTY0IGRlY29kZWQ="  # ends in "=": used as text


def example() -> str:
    """The shell block after the README's signed-curl-example marker."""
    match = re.search(
        r"<!-- signed-curl-example -->\n```sh\n(.*?)```", README, flags=re.S
    )
    assert match, "README lost its signed curl example"
    return match.group(1)


class _Capture(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((dict(self.headers), body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("curl")),
    reason="needs openssl and curl",
)
def test_readme_example_is_verified_by_the_receiver() -> None:
    """Running the README's openssl/curl lines sends headers that verify() accepts."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            "PATH": "/usr/bin:/bin",
            "SECRET": SECRET,
            "SIDECAR_URL": f"http://127.0.0.1:{server.server_address[1]}",
        }
        subprocess.run(["bash", "-euc", example()], env=env, check=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    ((headers, body),) = _Capture.seen
    timestamp = headers[TIMESTAMP_HEADER]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", timestamp)
    # The same computation in Python, and the receiver's own check.
    assert headers[SIGNATURE_HEADER] == sign(body, timestamp=timestamp, secret=SECRET)
    verify(
        body,
        signature=headers[SIGNATURE_HEADER],
        timestamp=timestamp,
        secret=SECRET,
        now=datetime.now(UTC),
    )
