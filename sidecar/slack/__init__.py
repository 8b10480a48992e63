"""The Slack app: 🎫 on a message in a customer's shared channel opens a Zendesk ticket.

``sidecar.slack.web`` (Bolt, Flask) answers Slack; ``sidecar.slack.jobs`` are the
queue's Slack jobs; ``sidecar.slack.bridge`` does their work in the worker;
``sidecar.slack.notify`` is the hook the reconciler calls so the thread follows
the ticket. This package file stays import-light: the queue imports the jobs.
"""
