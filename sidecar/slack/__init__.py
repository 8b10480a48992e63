"""The Slack Web API adapter: one place decides what Slack's answers mean.

``api`` talks to Slack (chat, views, users); ``blocks`` builds Block Kit and the
message references; ``links`` records which thread follows which ticket. The
Slack app that uses them sits above: ``sidecar.webhooks.slack`` answers Slack
(Bolt, Flask), ``sidecar.tasks.slack_jobs`` are the queue's Slack jobs,
``sidecar.tasks.slack_bridge`` does their work in the worker, and
``sidecar.tasks.slack_notify`` is the hook the reconciler calls so the thread
follows the ticket.
"""
