"""SLA and on-call escalation sidecar for Zendesk."""

__version__ = "0.1.0"
