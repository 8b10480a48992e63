"""The worker side of the Slack app: tickets from messages, comments from replies, the thread follows.

Built once per worker process (``build``); each job uses this thread's Zendesk
client (Zendesk clients are not thread-safe). The Slack ``WebClient`` opens a
connection per call and is shared.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk import WebClient

from sidecar.config import Config
from sidecar.domain.models import CommentText, Ticket, TicketUpdate
from sidecar.domain.plan import ACKED_TAG, AGENT_ROLES, CLOSED_STATUSES, PAGED_TAG, Plan
from sidecar.entitlements import EntitlementsStore, OrgEntitlement
from sidecar.errors import (
    ConfigError,
    Gone,
    Rejected,
    SidecarError,
    Transient,
    UpstreamError,
)
from sidecar.metrics import SLACK_NOT_IN_CHANNEL, count_slack_mismatch
from sidecar.slack import api
from sidecar.slack.blocks import (
    NOT_CONNECTED_TEXT,
    SEVERITY_NAMES,
    MessageRef,
    TicketRequest,
    due_phrase,
    link,
    quote,
    unescape,
)
from sidecar.slack.links import Links, external_id
from sidecar.zendesk.severity_options import severity_tags

if TYPE_CHECKING:
    from sidecar.tasks.handler import ReconcilerFactory
    from sidecar.tasks.queue import JobQueue
    from sidecar.zendesk.client import ZendeskClient

log = logging.getLogger("sidecar.slack")

SLACK_TAG = "slack"


def channel_tag(channel: str) -> str:
    """The tag that names the Slack channel a ticket came from (Zendesk tags are lowercase)."""
    return f"slack_{channel.lower()}"


class SlackBridge:
    """Turns Slack jobs into Zendesk calls, and ticket changes into thread messages."""

    def __init__(
        self,
        *,
        config: Config,
        queue: JobQueue,
        zendesk: Callable[[], ZendeskClient],
        planner: Callable[[int], Plan],
        store: EntitlementsStore,
        slack: WebClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if config.severity_field_id is None:
            raise ConfigError(
                'SIDECAR_SEVERITY_FIELD_ID is not set: the Slack app sets the "Issue '
                'Severity" field of the tickets it creates'
            )
        self.config = config
        self.queue = queue
        self.zendesk = zendesk
        self.planner = planner
        self.store = store
        self.slack = slack
        self.clock = clock
        self.severity_field = config.severity_field_id
        # {severity: the account's own option tag}, read from the field.
        self._severity_tags: dict[int, str] | None = None
        self.links = Links(queue, account=config.zendesk_subdomain or "zendesk")
        self._bot: str | None = None

    # --- the account's severity options ---------------------------------------------

    def severity_tags(self) -> dict[int, str]:
        """The account's option tag for each severity (read once, then kept)."""
        if self._severity_tags is None:
            self._severity_tags = read_severity_tags(
                self.zendesk(), self.severity_field
            )
        return self._severity_tags

    # --- slack_create ------------------------------------------------------------

    def create_ticket(self, request: TicketRequest) -> None:
        """Create the ticket for a Slack message, or find the one it already has."""
        ref = request.message
        entry = self._entry(ref.channel)
        if entry is None:
            # The channel was disconnected between the modal and this job.
            self._ephemeral(ref.channel, request.submitted_by, NOT_CONNECTED_TEXT)
            return
        zendesk = self.zendesk()
        permalink = self._permalink(ref)
        ref = _thread_from_permalink(ref, permalink)
        # External ids are not unique in Zendesk: look before creating, so a
        # retried job (or one after the dedup claim expired) finds its ticket.
        existing = zendesk.find_tickets_by_external_id(external_id(ref))
        if existing:
            ticket = existing[0]
            log.info(
                "slack message already has a ticket",
                extra={
                    "ticket_id": ticket.id,
                    "channel": ref.channel,
                    "message_ts": ref.ts,
                },
            )
        else:
            ticket = self._create(zendesk, request, ref, entry, permalink)
        self.links.remember(ticket.id, ref)
        # The due time and the page come from the normal path; the sync posts
        # the thread reply (and runs again after each reconcile).
        self.queue.enqueue_reconcile(ticket.id)
        self.queue.slack.schedule_sync(ticket.id)

    def _create(
        self,
        zendesk: ZendeskClient,
        request: TicketRequest,
        ref: MessageRef,
        entry: OrgEntitlement,
        permalink: str | None,
    ) -> Ticket:
        org_id = self._org_id(zendesk, entry)
        name, email = api.user_identity(self.slack, request.submitted_by)
        fallback = entry.default_requester_email
        requester: dict[str, str] | None
        note = ""
        if email:
            requester = {"name": name, "email": email}
        elif fallback:
            # Slack hides the email (missing scope, or an external Slack Connect
            # user): the organization's default requester, never a refused ticket.
            requester = {"name": fallback.split("@")[0], "email": fallback}
            note = "Slack did not share this person's email address, so the requester is the organization's default requester."
        else:
            requester = None
            note = "Slack did not share this person's email address and the organization has no default requester: the ticket is requested by the API user."
        body: dict[str, Any] = {
            "subject": request.subject,
            "comment": {
                "body": _description(request, name, ref, permalink, note),
                "public": True,
            },
            "organization_id": org_id,
            "custom_fields": [
                {
                    "id": self.severity_field,
                    "value": self.severity_tags()[request.severity],
                }
            ],
            "tags": [SLACK_TAG, channel_tag(ref.channel)],
            "external_id": external_id(ref),
        }
        if requester is not None:
            body["requester"] = requester
        try:
            ticket = zendesk.create_ticket(body)
        except Rejected as exc:
            # "You can only specify the ID of an organization associated with the
            # requester" (OAS TicketCreateInput): a person unknown to Zendesk is
            # not a member yet. The default requester is one (the admin chose it).
            if exc.status != 422 or not fallback or requester is None:
                raise
            if requester.get("email") == fallback:
                raise
            log.warning(
                "ticket refused for the Slack user as requester (%s); "
                "retrying with the organization's default requester",
                exc,
            )
            body["requester"] = {"name": fallback.split("@")[0], "email": fallback}
            body["comment"]["body"] = _description(
                request,
                name,
                ref,
                permalink,
                f"Zendesk refused {email} as the requester of this organization's "
                "ticket, so the requester is the organization's default requester.",
            )
            ticket = zendesk.create_ticket(body)
        self._check_created(zendesk, ticket, body, request)
        log.info(
            "ticket created from slack",
            extra={
                "ticket_id": ticket.id,
                "channel": ref.channel,
                "message_ts": ref.ts,
                "severity": request.severity,
            },
        )
        return ticket

    def _check_created(
        self,
        zendesk: ZendeskClient,
        ticket: Ticket,
        body: Mapping[str, Any],
        request: TicketRequest,
    ) -> None:
        """Tell an operator when the created ticket lacks the severity or org sent.

        Zendesk answers 2xx and drops a dropdown value that is not an option
        (the options changed since they were read), so the answer is the only
        place to see it: a log error, a metric, the reporter's ephemeral
        message and a private note on the ticket, which agents see.
        """
        sent_tag = body["custom_fields"][0]["value"]
        problems: list[tuple[str, str]] = []
        got_tag = ticket.custom_fields.get(self.severity_field)
        if got_tag != sent_tag:
            self._severity_tags = None  # read the options again next time
            problems.append(
                (
                    "severity",
                    f"Zendesk did not keep the Issue Severity sent (SEV "
                    f"{request.severity}, tag {sent_tag!r}; the ticket has "
                    f"{got_tag!r}): set it on the ticket and check the field's "
                    "options (`sidecar zendesk setup --dry-run`).",
                )
            )
        if ticket.organization_id != body["organization_id"]:
            problems.append(
                (
                    "organization",
                    f"Zendesk did not keep the organization sent "
                    f"({body['organization_id']}; the ticket has "
                    f"{ticket.organization_id}): set the organization on the ticket.",
                )
            )
        for field_name, text in problems:
            count_slack_mismatch(field_name)
            log.error(
                "ticket from slack created without its %s: %s",
                field_name,
                text,
                extra={"ticket_id": ticket.id, "severity": request.severity},
            )
        if not problems:
            return
        said = " ".join(text for _, text in problems)
        self._ephemeral(
            request.message.channel,
            request.submitted_by,
            f"Ticket #{ticket.id} was opened, but {said[0].lower()}{said[1:]}",
        )
        try:
            zendesk.update_ticket(
                TicketUpdate(
                    ticket_id=ticket.id,
                    updated_stamp=ticket.updated_stamp,
                    private_note=f"Opened from Slack. {said}",
                )
            )
        except SidecarError as exc:  # the log and the reporter still know
            log.warning("private note not added to ticket %s: %s", ticket.id, exc)

    def _org_id(self, zendesk: ZendeskClient, entry: OrgEntitlement) -> int:
        if entry.org_id is not None:
            return entry.org_id
        assert entry.external_id is not None
        org = zendesk.find_organization(entry.external_id)
        if org is None:
            raise ConfigError(
                f"{entry.label}: no Zendesk organization has external id "
                f"{entry.external_id!r}; fix the entitlements file"
            )
        return org.id

    def _entry(self, channel: str) -> OrgEntitlement | None:
        self.store.reload_if_changed()
        return self.store.file.for_channel(channel)

    def _permalink(self, ref: MessageRef) -> str | None:
        try:
            data = api.call(
                "chat.getPermalink",
                self.slack.chat_getPermalink,
                channel=ref.channel,
                message_ts=ref.ts,
            )
        except Gone as exc:
            log.info("no permalink for slack message: %s", exc)
            return None
        permalink = data.get("permalink")
        return str(permalink) if permalink else None

    # --- slack_comment ------------------------------------------------------------

    def add_comment(self, message: Mapping[str, Any]) -> None:
        """Add a customer's reply in the thread to the ticket as a public comment."""
        channel, thread_ts = str(message["channel"]), str(message["thread_ts"])
        user = str(message.get("user") or "")
        zendesk = self.zendesk()
        ticket_id = self.links.ticket_of(channel, thread_ts)
        if ticket_id is None:
            found = zendesk.find_tickets_by_external_id(
                external_id(MessageRef(channel, thread_ts, thread_ts))
            )
            if not found:
                log.info("slack thread follows no ticket", extra={"channel": channel})
                return
            ticket_id = found[0].id
        ticket = zendesk.get_ticket(ticket_id)
        if ticket.status == "closed":
            # Zendesk refuses comments on closed tickets.
            self._ephemeral(
                channel,
                user,
                f"Ticket #{ticket.id} is closed, so this reply was not added to it. "
                "React with 🎫 to a message to open a new ticket.",
                thread_ts=thread_ts,
            )
            return
        name, email = api.user_identity(self.slack, user) if user else ("", None)
        author_id = zendesk.find_user_id_by_email(email) if email else None
        text = unescape(str(message.get("text") or "")).strip() or "(no text)"
        if message.get("files"):
            text += "\n\n(The Slack message has attachments: see the thread.)"
        if author_id is None:
            # Not a Zendesk user: the API user writes it, saying who spoke.
            text = f"{name or user} wrote in Slack:\n\n{text}"
        # Marked first: the write fires Zendesk's trigger, and a sync that ran
        # before the comment is recorded as ours would echo it to the thread as
        # the agent's first reply (and then never announce the real one).
        self.links.begin_comment(ticket.id)
        try:
            comment_id = zendesk.add_public_comment(
                ticket.id, body=text, author_id=author_id
            )
            if comment_id is not None:
                self.links.own_comment(comment_id)
        finally:
            self.links.end_comment(ticket.id)
        log.info(
            "slack reply added to ticket",
            extra={
                "ticket_id": ticket.id,
                "comment_id": comment_id,
                "as_user": author_id is not None,
            },
        )

    # --- slack_sync -----------------------------------------------------------------

    def follow(self, ticket_id: int) -> None:
        """Tell the thread (or the org's channel) what happened to the ticket, each thing once."""
        ref = self.links.thread_of(ticket_id)
        decided = self.planner(ticket_id)
        ticket = decided.ticket
        paged = PAGED_TAG in ticket.tags
        if ref is None:
            if paged:
                self._org_page_notice(decided)
            return
        url = self.zendesk().ticket_url(ticket.id)
        label = link(url, f"Ticket #{ticket.id}")
        if (
            self.links.say_once(
                ticket.id,
                "opened",
                lambda: self._post(ref, _opened(decided, label, self.clock(), paged)),
            )
            and paged
        ):
            self.links.say_once(ticket.id, "paged", lambda: None)
        if paged:
            self.links.say_once(
                ticket.id,
                "paged",
                lambda: self._post(ref, f":rotating_light: On-call paged for {label}."),
            )
        if ACKED_TAG in ticket.tags:
            # PagerDuty's acknowledgement, in words for the customer: who and
            # the incident stay on the ticket's private note.
            self.links.say_once(
                ticket.id,
                "oncall_acked",
                lambda: self._post(
                    ref, f":large_green_circle: An on-call engineer is on it ({label})."
                ),
            )
        if not self.links.said(ticket.id, "first_reply"):
            if self.links.commenting(ticket.id):
                raise Transient(
                    f"slack: a reply from the thread is being added to ticket "
                    f"{ticket.id}; looking for the first agent reply after it",
                    service="slack",
                )
            reply = self._first_agent_reply(ticket)
            if reply is not None:
                who = reply.author_name or "Support"
                self.links.say_once(
                    ticket.id,
                    "first_reply",
                    lambda: self._post(
                        ref,
                        f":speech_balloon: {who} replied on {label}:\n{quote(reply.body)}",
                    ),
                )
        breached = "sla_breached" in ticket.tags or (
            decided.sla is not None and decided.sla.status == "breached"
        )
        if breached and decided.sla is not None:
            due = f"{decided.sla.due_at.astimezone(UTC):%H:%M} UTC"
            self.links.say_once(
                ticket.id,
                "breached",
                lambda: self._post(
                    ref,
                    f":warning: {label} missed its first-response target (due {due}).",
                ),
            )
        for line_key, text in metric_lines(decided, label):
            self.links.say_once(
                ticket.id, line_key, functools.partial(self._post, ref, text)
            )
        if ticket.status in CLOSED_STATUSES:
            self.links.say_once(
                ticket.id,
                "solved",
                lambda: self._post(
                    ref, f":white_check_mark: {label} is {ticket.status}."
                ),
            )

    def _first_agent_reply(self, ticket: Ticket) -> CommentText | None:
        zendesk = self.zendesk()
        me = zendesk.current_user_id()
        comments = sorted(
            zendesk.list_comment_texts(ticket.id), key=lambda c: c.created_at
        )
        for comment in comments[1:]:  # the first is the description
            if (
                comment.public
                and comment.author_role in AGENT_ROLES
                and comment.author_id not in (me, ticket.requester_id)
                and not self.links.is_own_comment(comment.id)
            ):
                return comment
        return None

    def _org_page_notice(self, decided: Plan) -> None:
        # The per-organization on-call notice, on the bot token, in the org's
        # channel (it replaces the incoming webhook where the app is set up).
        org = decided.organization
        entry = (
            self.store.file.lookup(org_id=org.id, external_id=org.external_id)
            if org is not None
            else None
        )
        if entry is None or entry.slack_channel is None:
            return
        channel = entry.slack_channel
        ticket = decided.ticket
        url = self.zendesk().ticket_url(ticket.id)
        severity = f"SEV {decided.severity}" if decided.severity else "Ticket"
        text = (
            f":rotating_light: [{severity}] {ticket.subject} — on-call has been paged: "
            f"{link(url, f'ticket #{ticket.id}')}"
        )
        who = f"{org.name} ({entry.label})" if org is not None else entry.label
        self.links.say_once(
            ticket.id,
            "paged_notice",
            lambda: self._post_message(
                channel, text, kind="org_notice", organization=who
            ),
        )

    # --- Slack posting --------------------------------------------------------------

    def _post(self, ref: MessageRef, text: str) -> None:
        entry = self._entry(ref.channel)
        self._post_message(
            ref.channel,
            text,
            thread_ts=ref.thread_ts,
            kind="thread",
            organization=entry.label if entry is not None else None,
        )

    def _post_message(
        self,
        channel: str,
        text: str,
        *,
        kind: str,
        organization: str | None,
        thread_ts: str | None = None,
    ) -> None:
        """chat.postMessage; a bot left out of the channel is logged with the fix and counted."""
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "unfurl_links": False,
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            api.call("chat.postMessage", self.slack.chat_postMessage, **kwargs)
        except api.NotInChannel:
            # Dropped as before (retrying cannot invite the bot), but never
            # silently: the operator learns which channel and what to do.
            bot = self._bot_name()
            SLACK_NOT_IN_CHANNEL.labels(kind).inc()
            log.warning(
                "slack %s not posted for %s: the bot is not in channel %s; "
                "invite @%s to #%s (in Slack: open the channel, type /invite @%s)",
                "on-call notice" if kind == "org_notice" else "thread reply",
                organization or "an unmapped channel",
                channel,
                bot,
                channel,
                bot,
                extra={
                    "channel": channel,
                    "organization": organization,
                    "outcome": "not_in_channel",
                },
            )
            raise

    def _bot_name(self) -> str:
        """The bot user's name for the fix we log (auth.test, once); a placeholder if unknown."""
        if self._bot is None:
            try:
                name = api.call("auth.test", self.slack.auth_test).get("user")
            except UpstreamError:
                return "<the app's bot user>"
            self._bot = str(name) if name else "<the app's bot user>"
        return self._bot

    def _ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        if not user:
            return
        try:
            kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
            if thread_ts:
                kwargs["thread_ts"] = thread_ts
            api.call("chat.postEphemeral", self.slack.chat_postEphemeral, **kwargs)
        except Gone as exc:  # the person left the channel: nobody to tell
            log.info("ephemeral not delivered: %s", exc)


METRIC_WORDS = {
    "next_reply": "next-reply",
    "periodic_update": "periodic-update",
    "resolution": "resolution",
}


def metric_lines(decided: Plan, label: str) -> list[tuple[str, str]]:
    """One thread line per metric cycle that went past its target: (say-once key, text).

    The thread is the customer's channel: a missed target is news to them (as
    the first response's); an at-risk clock is the agents' business (tags,
    views, the sidebar), and a met one shows as the reply itself.
    """
    lines: list[tuple[str, str]] = []
    for state in decided.metrics:
        if not state.cycles:
            continue
        cycle = state.cycles[-1]
        if cycle.state != "breached" or cycle.due is None:
            continue
        due = f"{cycle.due.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        word = METRIC_WORDS.get(state.name, state.name)
        lines.append(
            (
                f"{state.name}_breached:{cycle.start.astimezone(UTC):%Y%m%dT%H%M%S}",
                f":warning: {label} missed its {word} target (due {due}).",
            )
        )
    return lines


def read_severity_tags(zendesk: ZendeskClient, field_id: int | None) -> dict[int, str]:
    """Read the severity field's options: {severity: the account's own tag}.

    Zendesk drops a dropdown value that is not one of the field's options with
    a 2xx (docs/decisions.md, "The people's side of setup"), so the tags come
    from the field itself, mapped with the receiver's parser. ConfigError names
    the options when a severity has none, or when the field is not a dropdown.
    """
    fields = zendesk.list_ticket_fields()
    found = next((f for f in fields if f.get("id") == field_id), None)
    if found is None or found.get("type") != "tagger":
        raise ConfigError(
            f"SIDECAR_SEVERITY_FIELD_ID={field_id}: Zendesk has no drop-down ticket "
            "field with that id (the Slack app sets it on the tickets it creates); "
            "run `sidecar zendesk setup`"
        )
    return severity_tags(
        found.get("custom_field_options") or (),
        field=f"SIDECAR_SEVERITY_FIELD_ID={field_id} ({found.get('title')!r})",
    )


def _thread_from_permalink(ref: MessageRef, permalink: str | None) -> MessageRef:
    """Correct the thread parent from the permalink (a reply's carries ``thread_ts``)."""
    # api.slack.com/methods/chat.getPermalink: replies get ?thread_ts=…&cid=…
    if not permalink:
        return ref
    parent = parse_qs(urlsplit(permalink).query).get("thread_ts", [None])[0]
    if parent and parent != ref.thread_ts:
        return replace(ref, thread_ts=parent)
    return ref


def _description(
    request: TicketRequest,
    name: str,
    ref: MessageRef,
    permalink: str | None,
    note: str,
) -> str:
    lines = [
        request.description,
        "",
        "—",
        f"Raised in Slack by {name} (Slack user {request.submitted_by}) "
        f"in channel {ref.channel}.",
        f"Slack message: {permalink or '(permalink unavailable)'}",
    ]
    if note:
        lines.append(note)
    return "\n".join(lines)


def _opened(decided: Plan, label: str, now: datetime, paged: bool) -> str:
    severity = decided.severity
    parts = [f":ticket: {label} opened"]
    if severity is not None:
        parts.append(f"*{SEVERITY_NAMES.get(severity, f'SEV {severity}')}*")
    if decided.sla is not None and decided.sla.status in {"pending", "at_risk"}:
        parts.append(f"first response {due_phrase(decided.sla.due_at, now)}")
    elif decided.sla is None:
        parts.append("no contractual first-response time applies")
    if paged:
        parts.append("on-call paged")
    return " · ".join(parts) + "."


def build(
    config: Config, *, queue: JobQueue, factory: ReconcilerFactory
) -> SlackBridge:
    """The bridge of one worker process, sharing the reconciler factory's parts."""
    return SlackBridge(
        config=config,
        queue=queue,
        zendesk=factory.client,
        planner=lambda ticket_id: factory.reconciler().plan(ticket_id),
        store=factory.store,
        slack=api.web_client(config),
    )
