"""The Flask app factory: wiring of the webhook receiver, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from sidecar.agentapp import blueprint as agentapp
from sidecar.config import Config
from sidecar.domain.plan import Plan
from sidecar.errors import ConfigError, QueueUnavailable
from sidecar.ingress import BodyDeadline, Watchdog
from sidecar.metrics import REQUESTS, BudgetCollector, render
from sidecar.scrape import queue_registry
from sidecar.tasks.memo import TicketMemory
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import AUTH_FAILED_FLAG
from sidecar.webhooks import pagerduty as pagerduty_webhooks
from sidecar.webhooks import zendesk
from sidecar.zendesk.budget import shares_from
from sidecar.zendesk.events import INVOCATION_HEADER

log = logging.getLogger("sidecar.app")
# A webhook body arrives with its headers; one still arriving after this is slow.
SLOW_UPLOAD_GRACE_SECONDS = 0.5


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    config: Config,
    *,
    queue: JobQueue | None = None,
    clock: Callable[[], datetime] | None = None,
    planner: Callable[[], Callable[[int], Plan]] | None = None,
) -> Flask:
    """Create the web app: POST /webhooks/zendesk and /webhooks/pagerduty, the app's API, /healthz, /readyz, /metrics.

    ``planner`` builds what plans a ticket for GET /api/tickets/<id>/sla
    (default: the worker's reconciler, made on the first request).

    Raises ConfigError when no webhook secret is configured: there is no unsigned
    mode.
    """
    if not config.webhook_secret:
        raise ConfigError(
            "SIDECAR_WEBHOOK_SECRET is not set: set it to the webhook's signing "
            "secret (Zendesk Admin Center > Webhooks > Reveal secret), "
            "or run `sidecar serve`, which generates one"
        )
    queue = queue or JobQueue.from_url(config.queue_url)
    app = Flask("sidecar")
    # Chunked bodies have no Content-Length; this bounds what get_data() reads.
    app.config["MAX_CONTENT_LENGTH"] = zendesk.MAX_BODY_BYTES + 1
    receiver = zendesk.Receiver(
        queue=queue,
        # Several secrets, comma-separated: one per Zendesk webhook, or old + new
        # while rotating.
        secrets=tuple(
            part.strip()
            for part in config.webhook_secret.reveal().split(",")
            if part.strip()
        ),
        tolerance=timedelta(seconds=config.webhook_tolerance_seconds),
        clock=clock or _utcnow,
        memory=TicketMemory(queue, account=config.zendesk_subdomain or ""),
    )
    # PagerDuty's V3 webhooks (acknowledged, notes, resolved ...) back on tickets;
    # without SIDECAR_PAGERDUTY_WEBHOOK_SECRET every delivery is refused (401).
    pagerduty_webhooks.init_app(
        app,
        queue=queue,
        account=config.zendesk_subdomain or "zendesk",
        secret=(
            config.pagerduty_webhook_secret.reveal()
            if config.pagerduty_webhook_secret
            else None
        ),
        max_age_seconds=config.pagerduty_webhook_max_age_seconds,
        clock=clock or _utcnow,
    )
    # The agents' sidebar app (GET /api/tickets/<id>/sla); 401 until configured.
    agentapp.init_app(app, config, queue=queue, make_planner=planner)
    if config.slack_enabled:
        # The Slack app (POST /slack/events, /slack/interactions), only when set up.
        from sidecar.webhooks import slack as slack_web

        slack_web.init_app(app, config, queue=queue)
    # POST /webhooks/zendesk is plain WSGI in front of Flask (its cost, issue 19);
    # bodies are read under a deadline before either: a slow upload is cut (408,
    # or 503 when too many are slow at once) instead of holding a thread.
    app.wsgi_app = BodyDeadline(  # type: ignore[method-assign]
        zendesk.ZendeskWebhooks(receiver, app.wsgi_app),
        watchdog=Watchdog(
            grace=min(SLOW_UPLOAD_GRACE_SECONDS, config.body_read_seconds),
            deadline=config.body_read_seconds,
            slow_slots=config.slow_uploads,
        ),
        max_bytes=zendesk.MAX_BODY_BYTES,
    )
    registry = queue_registry(queue)
    # The deployment-wide Zendesk budget, read at scrape time (used vs allowed).
    budget = queue.budget(shares_from(config))
    registry.register(BudgetCollector(budget.usage, budget.bulk_usage))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            queue.ping()
            auth_failed = queue.get_flag(AUTH_FAILED_FLAG)
        except QueueUnavailable as exc:
            log.warning("not ready: %s", exc)
            return jsonify(status="unavailable", reason="queue unreachable"), 503
        if auth_failed:
            return (
                jsonify(
                    status="unavailable",
                    reason=f"Zendesk rejected our credentials at {auth_failed}",
                ),
                503,
            )
        return jsonify(status="ready", zendesk_connected=config.zendesk_connected), 200

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render(registry)
        return Response(body, content_type=content_type)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        return jsonify(error=(exc.name or "error").lower()), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        # Log the class only with the traceback; never the request body or headers.
        REQUESTS.labels("error").inc()
        log.exception(
            "unhandled error",
            extra={"invocation_id": request.headers.get(INVOCATION_HEADER)},
        )
        return jsonify(error="internal error"), 500

    return app
