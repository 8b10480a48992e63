"""Every Zendesk error an operator sees names the host, the user, Zendesk's words and the next step.

The CLI prints ``str(error)``, the worker logs it and stores it as the dead
letter's reason: one message, built once where the answer is deciphered.
Real sockets on 127.0.0.1: a refused port, a plain-HTTP server spoken to over
TLS, a server that never answers, and a name that does not resolve.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from sidecar.config import Secret
from sidecar.errors import AuthFailed, Transient, UpstreamError
from sidecar.tasks.queue import JobQueue
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.decipher import Account, decipher
from tests.adapters.test_queue import run_next
from tests.fake_zendesk import API_EMAIL, SUBDOMAIN, FakeZendesk

WRONG = "wrong-token-do-not-print"


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk() as zendesk:
        yield zendesk


def _client(base_url: str, **kwargs: object) -> ZendeskClient:
    return ZendeskClient(
        SUBDOMAIN,
        email=API_EMAIL,
        api_token=Secret(WRONG),
        base_url=base_url,
        timeout=(0.5, 0.5),
        **kwargs,  # type: ignore[arg-type]
    )


def _error(client: ZendeskClient) -> UpstreamError:
    with client, pytest.raises(UpstreamError) as info:
        client.get_ticket(1)
    assert WRONG not in str(info.value)
    return info.value


def test_a_401_names_host_user_zendesk_words_and_what_to_check(
    fake: FakeZendesk,
) -> None:
    """A refused token: the host, the API user, Zendesk's error and the variables to fix."""
    host = fake.url.split("//", 1)[1]
    error = _error(_client(fake.url))
    text = str(error)
    assert isinstance(error, AuthFailed)
    assert host in text and API_EMAIL in text
    assert "HTTP 401" in text and "Couldn't authenticate you" in text
    assert "SIDECAR_ZENDESK_EMAIL" in text and "SIDECAR_ZENDESK_API_TOKEN" in text
    assert f"for {SUBDOMAIN}" in text and "Admin Center" in text


def test_a_403_says_the_role_is_missing() -> None:
    """Forbidden: the user is named and told which role the API user needs."""
    account = Account(subdomain="acme", host="acme.zendesk.com", user="bot@acme.test")
    body = {"error": {"title": "Forbidden", "message": "You do not have access"}}
    text = str(decipher("GET", "/api/v2/webhooks", 403, {}, body, account=account))
    assert "acme.zendesk.com" in text and "bot@acme.test" in text
    assert "Forbidden" in text and "You do not have access" in text
    assert "admin" in text and "role" in text


def test_an_oauth_401_points_at_the_oauth_token() -> None:
    """With an OAuth token the next step names SIDECAR_ZENDESK_OAUTH_TOKEN, not the email."""
    account = Account(subdomain="acme", host="acme.zendesk.com", user="", oauth=True)
    text = str(
        decipher(
            "GET",
            "/api/v2/tickets/1.json",
            401,
            {},
            {"error": "Unauthorized"},
            account=account,
        )
    )
    assert "SIDECAR_ZENDESK_OAUTH_TOKEN" in text and "OAuth token" in text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_names_the_host_and_what_to_check() -> None:
    """Nothing listens: the host, 'refused', and the setting that chose the host."""
    port = _closed_port()
    error = _error(_client(f"http://127.0.0.1:{port}"))
    text = str(error)
    assert isinstance(error, Transient)
    assert f"127.0.0.1:{port}" in text and "refused" in text
    assert "SIDECAR_ZENDESK_URL" in text and API_EMAIL in text


def test_an_unresolvable_host_names_the_subdomain_setting() -> None:
    """A name that does not resolve: the host, DNS, and the variable that made the name."""
    text = str(_error(_client("https://no-such-host.invalid")))
    assert "no-such-host.invalid" in text and "resolve" in text
    assert "SIDECAR_ZENDESK_URL" in text


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A TCP server that accepts and reads but never answers (and never speaks TLS)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_host_times_out_naming_the_host(silent_server: socket.socket) -> None:
    """No answer: 'timed out', the host, and what to look at."""
    port = silent_server.getsockname()[1]
    text = str(_error(_client(f"http://127.0.0.1:{port}")))
    assert "timed out" in text and f"127.0.0.1:{port}" in text
    assert "network" in text


def test_a_tls_failure_names_the_host_and_certificates(fake: FakeZendesk) -> None:
    """https to a server that speaks plain HTTP: a TLS failure naming host and CA bundle."""
    port = fake.url.rsplit(":", 1)[1]
    text = str(_error(_client(f"https://127.0.0.1:{port}")))
    assert "TLS" in text and f"127.0.0.1:{port}" in text
    assert "certificate" in text


def test_the_cli_prints_the_same_message_without_the_token(fake: FakeZendesk) -> None:
    """What an admin sees on the command line: one line, host, user, next step, no token."""
    env = {
        "SIDECAR_CONFIG": None,
        **fake.env(),
        "SIDECAR_ZENDESK_API_TOKEN": WRONG,
    }
    result = CliRunner().invoke(main, ["orgs", "check"], env=env)
    assert result.exit_code == 1
    assert "SIDECAR_ZENDESK_API_TOKEN" in result.output and API_EMAIL in result.output
    assert WRONG not in result.output and "Traceback" not in result.output


def test_a_dead_letter_and_its_log_line_carry_the_same_message(
    fake: FakeZendesk, queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker's dead letter (and its error log line) say host, user and next step."""

    def reconcile(ticket_id: int) -> None:
        with _client(fake.url) as client:
            client.get_ticket(ticket_id)

    queue.enqueue_reconcile(7)
    run_next(queue, reconcile, later=False)
    (failed,) = queue.failed_jobs()
    for text in (failed.error, caplog.text):
        assert API_EMAIL in text and "SIDECAR_ZENDESK_API_TOKEN" in text
        assert fake.url.split("//", 1)[1] in text and WRONG not in text
