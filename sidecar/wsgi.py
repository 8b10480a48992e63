"""The production WSGI entry point: ``gunicorn sidecar.wsgi:app``.

The only module that reads ``os.environ`` for the web process. It refuses to
start without SIDECAR_WEBHOOK_SECRET (create_app raises a ConfigError naming it).
"""

from __future__ import annotations

import os

from sidecar import logs
from sidecar.app import create_app
from sidecar.config import Config

config = Config.from_env(os.environ)
logs.configure(config.log_level)
app = create_app(config)
