"""Post a notice to a customer's shared Slack channel through an incoming webhook.

The webhook URL is the credential (anyone holding it can post), so no message,
log line or error names more than its host. One request per call: the worker
owns retries.

https://api.slack.com/messaging/webhooks
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from sidecar.config import Secret
from sidecar.errors import RateLimited, Rejected, Transient
from sidecar.net import is_loopback, parse_retry_after

DEFAULT_TIMEOUT = 10.0
_SERVICE = "slack"


class SlackNotifier:
    """Post plain-text messages to Slack incoming webhooks."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._timeout = timeout
        self._session = session or requests.Session()

    def post(self, url: str | Secret, text: str) -> None:
        """Post ``text``; raise Transient (429, 5xx, network) or Rejected (the rest)."""
        target = url.reveal() if isinstance(url, Secret) else url
        parts = urlsplit(target)
        host = parts.hostname or "an invalid URL"
        if not (
            parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
        ):
            # Plain http would send the credential in clear text (loopback: tests).
            raise Rejected(
                f"Slack: webhook URL for {host} must be https://", service=_SERVICE
            )
        try:
            response = self._session.post(
                target,
                json={"text": text},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            # requests' messages repeat the URL, path and all: never pass them on.
            raise Transient(
                f"Slack: timed out posting to {host}", service=_SERVICE
            ) from None
        except requests.ConnectionError as exc:
            raise Transient(
                f"Slack: connection to {host} failed ({type(exc).__name__})",
                service=_SERVICE,
            ) from None
        except requests.RequestException as exc:
            raise Rejected(
                f"Slack: cannot post to {host} ({type(exc).__name__})", service=_SERVICE
            ) from None
        status = response.status_code
        body = " ".join(response.text.split())[:200]
        if status == 200 and body == "ok":
            return
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            raise RateLimited(
                f"Slack: rate limited (HTTP 429) by {host}",
                service=_SERVICE,
                status=status,
                retry_after=retry_after,
            )
        if status >= 500:
            raise Transient(
                f"Slack: HTTP {status} from {host}: {body}",
                service=_SERVICE,
                status=status,
                retry_after=retry_after,
            )
        # Slack's error bodies are short codes (invalid_payload, no_service,
        # channel_is_archived ...). 403/404 stay plain Rejected: the worker reads
        # AuthFailed as a Zendesk credential failure and drops NotFound quietly.
        raise Rejected(
            f"Slack: rejected (HTTP {status}) by {host}: {body or '(empty body)'}",
            service=_SERVICE,
            status=status,
        )

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()
