"""SlackNotifier against a fake incoming-webhook server over real HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sidecar.config import Secret
from sidecar.errors import RateLimited, Rejected, Transient
from sidecar.oncall.slack import SlackNotifier
from tests.fake_pagerduty import FakeSlack

SECRET_PATH = "/services/T000/B000/VERYSECRETTOKEN"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def notifier() -> Iterator[SlackNotifier]:
    n = SlackNotifier(timeout=2)
    yield n
    n.close()


def assert_no_secret(error: Exception) -> None:
    for text in (str(error), repr(error)):
        assert "VERYSECRETTOKEN" not in text and "/services/" not in text


def test_posts_text_as_json(slack: FakeSlack, notifier: SlackNotifier) -> None:
    """A post sends {"text": ...} to the webhook and succeeds on 200 ok."""
    notifier.post(slack.webhook_url(SECRET_PATH), "[SEV 1] Acme: down")
    assert slack.posts == [(SECRET_PATH, {"text": "[SEV 1] Acme: down"})]


def test_accepts_a_secret_url(slack: FakeSlack, notifier: SlackNotifier) -> None:
    """The webhook URL may be passed as a Secret."""
    notifier.post(Secret(slack.webhook_url(SECRET_PATH)), "hi")
    assert len(slack.posts) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_transient(
    slack: FakeSlack, notifier: SlackNotifier, status: int
) -> None:
    """A 5xx raises Transient after one request, without the URL in the message."""
    slack.fail_next(1, status)
    with pytest.raises(Transient) as info:
        notifier.post(slack.webhook_url(SECRET_PATH), "hi")
    assert info.value.status == status and slack.request_count == 1
    assert_no_secret(info.value)


def test_429_is_rate_limited(slack: FakeSlack, notifier: SlackNotifier) -> None:
    """A 429 raises RateLimited carrying Retry-After."""
    slack.fail_next(1, 429, retry_after=2)
    with pytest.raises(RateLimited) as info:
        notifier.post(slack.webhook_url(SECRET_PATH), "hi")
    assert info.value.retry_after == 2.0


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_4xx_is_rejected(
    slack: FakeSlack, notifier: SlackNotifier, status: int
) -> None:
    """Other statuses are Rejected (not NotFound/AuthFailed) and name only the host."""
    slack.fail_next(1, status)
    with pytest.raises(Rejected) as info:
        notifier.post(slack.webhook_url(SECRET_PATH), "hi")
    assert type(info.value) is Rejected and not info.value.retryable
    assert "127.0.0.1" in str(info.value)
    assert_no_secret(info.value)


def test_timeout_is_transient(slack: FakeSlack) -> None:
    """A slow webhook times out as Transient without echoing the URL."""
    slack.delay(0.5)
    with pytest.raises(Transient, match="timed out") as info:
        SlackNotifier(timeout=0.05).post(slack.webhook_url(SECRET_PATH), "hi")
    assert_no_secret(info.value)


def test_connection_refused_is_transient(notifier: SlackNotifier) -> None:
    """Nothing listening is Transient, and the message names only the host."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Transient) as info:
        notifier.post(f"http://127.0.0.1:{port}{SECRET_PATH}", "hi")
    assert_no_secret(info.value)


def test_plain_http_refused_off_loopback(notifier: SlackNotifier) -> None:
    """An http:// webhook off this machine is Rejected before anything is sent."""
    with pytest.raises(Rejected) as info:
        notifier.post(f"http://hooks.slack.com{SECRET_PATH}", "hi")
    assert "hooks.slack.com" in str(info.value)
    assert_no_secret(info.value)
