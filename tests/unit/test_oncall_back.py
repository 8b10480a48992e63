"""PagerDuty's news about a page: signature, event, ticket, state, the one write (issue 22)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.domain.models import CommentText, Ticket, TicketUpdate
from sidecar.domain.oncall import (
    ACKNOWLEDGED,
    ANNOTATED,
    RESOLVED,
    UNACKNOWLEDGED,
    IncidentEvent,
    OncallState,
    fold,
    ticket_update,
)
from sidecar.errors import BadEvent, BudgetWait, InvalidSignature, Transient
from sidecar.oncall.pagerduty import dedup_key
from sidecar.oncall.pagerduty_webhooks import parse, sign, ticket_of, verify
from sidecar.tasks.oncall_back import OncallBack, OncallStates

BODY = b'{"event": {"id": "e1"}}'


def pd_signature(body: bytes, secret: str) -> str:
    """The signature as "Verifying Signatures" computes it, independently of our code."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TestVerify:
    """sidecar.oncall.pagerduty_webhooks.verify: fail closed, any of several signatures."""

    def test_our_signing_matches_the_published_example_algorithm(self) -> None:
        """sign() is PagerDuty's v1 = hex HMAC-SHA256 of the body."""
        assert sign(BODY, secret="s3cret") == pd_signature(BODY, "s3cret")

    def test_one_matching_signature_of_several_is_enough(self) -> None:
        """During a rotation PagerDuty sends one v1 per secret, comma-separated."""
        header = f"{pd_signature(BODY, 'old')},{pd_signature(BODY, 'new')}"
        verify(BODY, header=header, secrets=["new"])
        verify(BODY, header=header, secrets=["other", "old"])

    @pytest.mark.parametrize(
        ("header", "secrets", "reason"),
        [
            (None, ["s"], "missing X-PagerDuty-Signature"),
            ("", ["s"], "missing X-PagerDuty-Signature"),
            ("v0=abc", ["s"], "no v1 signature"),
            ("v1=" + "0" * 64, ["s"], "does not match"),
            ("v1=abc", [], "no PagerDuty webhook secret"),
        ],
    )
    def test_refusals(
        self, header: str | None, secrets: list[str], reason: str
    ) -> None:
        """Missing, foreign, wrong, or nothing to check against: InvalidSignature."""
        with pytest.raises(InvalidSignature, match=reason):
            verify(BODY, header=header, secrets=secrets)

    @given(body=st.binary(max_size=200), secret=st.text(min_size=1, max_size=20))
    def test_a_changed_body_never_verifies(self, body: bytes, secret: str) -> None:
        """A signature of one body verifies that body and no other."""
        header = pd_signature(body, secret)
        verify(body, header=header, secrets=[secret])
        with pytest.raises(InvalidSignature):
            verify(body + b" ", header=header, secrets=[secret])


def incident_event(event_type: str, **data: object) -> bytes:
    payload = {
        "id": "PINC1",
        "type": "incident",
        "number": 7,
        "html_url": "https://acme.pagerduty.com/incidents/PINC1",
        "incident_key": dedup_key("acme", 42),
        "title": "[SEV 1] Acme: down",
        "assignees": [{"summary": "Dana Oncall", "type": "user_reference"}],
        **data,
    }
    return json.dumps(
        {
            "event": {
                "id": "EV1",
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2026-12-07T14:03:11.000Z",
                "agent": {"summary": "Dana Oncall", "type": "user_reference"},
                "client": {"name": "PagerDuty"},
                "data": payload,
            }
        }
    ).encode()


class TestParse:
    """Reading a verified body: the V3 envelope, an incident or a note."""

    def test_an_acknowledge(self) -> None:
        """Who, when, which incident, its key and assignees."""
        event = parse(incident_event(ACKNOWLEDGED))
        assert event is not None
        assert (event.event_id, event.agent, event.incident_number) == (
            "EV1",
            "Dana Oncall",
            7,
        )
        assert ticket_of(event.incident_key, account="acme") == 42
        assert event.assignees == ("Dana Oncall",)

    def test_a_note_names_the_incident_only(self) -> None:
        """incident.annotated carries an incident_note: content, no incident_key."""
        body = json.loads(incident_event(ANNOTATED))
        body["event"]["data"] = {
            "incident": {"id": "PINC1", "type": "incident_reference"},
            "content": "rolling back",
            "type": "incident_note",
        }
        event = parse(json.dumps(body).encode())
        assert event is not None
        assert (event.incident_id, event.incident_key, event.note) == (
            "PINC1",
            None,
            "rolling back",
        )

    def test_assignees_that_are_not_a_list_are_none(self) -> None:
        """A malformed assignees value is read as none (it raised TypeError before: a 500)."""
        event = parse(incident_event(ACKNOWLEDGED, assignees=5))
        assert event is not None and event.assignees == ()

    def test_other_event_types_are_not_acted_on(self) -> None:
        """A service or priority event parses to None (answered 200 ignored)."""
        assert parse(incident_event("incident.priority_updated")) is None

    @pytest.mark.parametrize(
        "body", [b"[]", b"not json", b'{"event": 1}', b'{"event": {"id": "x"}}']
    )
    def test_not_a_v3_event(self, body: bytes) -> None:
        """Anything else is a 400."""
        with pytest.raises(BadEvent):
            parse(body)

    @pytest.mark.parametrize(
        "key",
        [None, "", "nagios-1", dedup_key("other", 42), "zendesk-acme-ticket-x"],
    )
    def test_keys_the_sidecar_did_not_send_are_not_ours(self, key: str | None) -> None:
        """Only the dedup key of this account maps to a ticket."""
        assert ticket_of(key, account="acme") is None

    @given(st.integers(min_value=1, max_value=10**12))
    def test_every_ticket_id_round_trips(self, ticket_id: int) -> None:
        """ticket_of inverts dedup_key."""
        assert ticket_of(dedup_key("acme", ticket_id), account="acme") == ticket_id


def event(
    event_type: str, event_id: str, minute: int, *, agent: str = "Dana"
) -> IncidentEvent:
    at = datetime(2026, 12, 7, 14, minute, tzinfo=UTC)
    return IncidentEvent(
        event_id=event_id,
        event_type=event_type,
        occurred_at=at.isoformat().replace("+00:00", "Z"),
        agent=agent,
        incident_id="PINC1",
        incident_number=7,
        note="a note" if event_type == ANNOTATED else None,
    )


TICKET = Ticket(
    id=42,
    subject="down",
    status="open",
    created_at=datetime(2026, 12, 7, 14, 0, tzinfo=UTC),
    updated_stamp="2026-12-07T14:00:00Z",
    organization_id=1,
    requester_id=2,
    tags=frozenset({"sev_1", "oncall_paged", "sla_pending", "vip"}),
    custom_fields={},
)


class TestFold:
    """The state after each event, and the one write it calls for."""

    def test_acknowledge_then_resolve(self) -> None:
        """Acked: who and when, the tag; resolved: the tag goes, both lines pending."""
        state = fold(None, event(ACKNOWLEDGED, "a", 3))
        assert state.acknowledged and state.acked_by == "Dana"
        assert "On-call acknowledged: Dana at 2026-12-07 14:03 UTC" in state.pending[0]
        update = ticket_update(TICKET, state)
        assert update.tags == TICKET.tags | {"oncall_acked"}
        state = fold(state, event(RESOLVED, "r", 9))
        assert not state.acknowledged
        update = ticket_update(replace(TICKET, tags=update.tags), state)
        assert update.tags == TICKET.tags
        assert update.private_note is not None
        assert update.private_note.count("\n\n") == 1  # two lines, one note

    def test_a_note_is_named_by_the_incident_number_seen_before(self) -> None:
        """A note's event has no number: the line takes the one the state knows."""
        state = fold(None, event(ACKNOWLEDGED, "a", 3))
        note = replace(event(ANNOTATED, "n", 4), incident_number=None)
        assert (
            fold(state, note)
            .pending[-1]
            .startswith("Note on PagerDuty incident #7 by Dana")
        )
        assert (
            fold(None, note).pending[-1].startswith("Note on the PagerDuty incident by")
        )

    def test_a_redelivered_event_changes_nothing(self) -> None:
        """The same event id folds to the same state."""
        state = fold(None, event(ACKNOWLEDGED, "a", 3))
        assert fold(state, event(ACKNOWLEDGED, "a", 3)) == state

    def test_an_older_event_arriving_late_does_not_undo_a_newer_status(self) -> None:
        """Resolved at :09, an acknowledge of :03 delivered after it: still resolved (its note kept)."""
        state = fold(None, event(RESOLVED, "r", 9))
        state = fold(state, event(ACKNOWLEDGED, "a", 3))
        assert state.status == "resolved" and len(state.pending) == 2

    def test_a_resolve_on_a_solved_ticket_is_no_news(self) -> None:
        """The sidecar resolves the incident when the ticket is solved: that resolve writes no note."""
        state = fold(None, event(RESOLVED, "r", 9))
        assert (
            ticket_update(replace(TICKET, status="solved"), state).private_note is None
        )
        assert ticket_update(TICKET, state).private_note is not None

    def test_nothing_pending_and_the_tag_right_is_no_write(self) -> None:
        """After the write, the same state writes nothing."""
        state = fold(None, event(UNACKNOWLEDGED, "u", 3)).written()
        assert ticket_update(TICKET, state).is_empty()

    @given(
        st.lists(
            st.tuples(
                st.sampled_from([ACKNOWLEDGED, UNACKNOWLEDGED, RESOLVED, ANNOTATED]),
                st.integers(min_value=0, max_value=59),
            ),
            max_size=12,
        ),
        st.frozensets(st.sampled_from(["sev_1", "vip", "oncall_paged", "x"])),
    )
    def test_only_oncall_acked_ever_changes_among_the_tags(
        self, events: list[tuple[str, int]], tags: frozenset[str]
    ) -> None:
        """Whatever arrives, the write keeps every other tag and sends oncall_acked iff acknowledged."""
        state: OncallState | None = None
        for n, (kind, minute) in enumerate(events):
            state = fold(state, event(kind, f"e{n}", minute))
        if state is None:
            return
        update = ticket_update(replace(TICKET, tags=tags), state)
        after = tags if update.tags is None else update.tags
        assert after - {"oncall_acked"} == tags - {"oncall_acked"}
        assert ("oncall_acked" in after) == state.acknowledged
        assert len(state.pending) == len(events)


class DictStore:
    """The queue store's memo and claims, in a dict."""

    def __init__(self) -> None:
        self.memo: dict[str, str] = {}
        self.claims: set[str] = set()

    def get_memo(self, key: str) -> str | None:
        return self.memo.get(key)

    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
        self.memo[key] = value

    def claim(self, key: str, *, ttl_seconds: float = 0) -> bool:
        if key in self.claims:
            return False
        self.claims.add(key)
        return True

    def release(self, key: str) -> None:
        self.claims.discard(key)


class FloorZendesk:
    """A Zendesk whose budget is used up until ``open_budget``; records the writes."""

    def __init__(self) -> None:
        self.ticket = TICKET
        self.budget_open = False
        self.writes: list[TicketUpdate] = []

    def get_ticket(self, ticket_id: int, *, quick: bool = False) -> Ticket:
        if not self.budget_open:
            raise BudgetWait("budget used", service="zendesk", retry_after=1.0)
        return self.ticket

    def update_ticket(self, update: TicketUpdate) -> str | None:
        self.writes.append(update)
        self.ticket = replace(
            self.ticket,
            tags=update.tags if update.tags is not None else self.ticket.tags,
        )
        return None


def test_what_arrives_at_the_api_floor_goes_out_as_one_update() -> None:
    """Acknowledge and a note while the budget is used up: the next run writes both in one update."""
    zendesk = FloorZendesk()
    back = OncallBack(
        zendesk=lambda: zendesk, states=OncallStates(DictStore(), account="acme")
    )
    for kind, event_id in ((ACKNOWLEDGED, "a"), (ANNOTATED, "n")):
        with pytest.raises(BudgetWait):
            back.apply(42, event(kind, event_id, 3))
    zendesk.budget_open = True
    back.apply(42, event(ACKNOWLEDGED, "a", 3))  # the first job, run again
    back.apply(42, event(ANNOTATED, "n", 3))  # the second: nothing left to write
    (write,) = zendesk.writes
    assert write.private_note is not None
    assert (
        "On-call acknowledged" in write.private_note and "a note" in write.private_note
    )
    assert write.tags is not None and "oncall_acked" in write.tags


def test_a_held_lock_is_waited_for_then_a_retry() -> None:
    """Another job writing the same ticket: wait a little, then a Transient (retried)."""
    store = DictStore()
    states = OncallStates(store, account="acme", lock_wait=0.1)
    store.claims.add("oncall_lock:acme:42")
    with pytest.raises(Transient, match="being written"), states.lock(42):
        pass
    store.claims.clear()
    with states.lock(42):
        assert "oncall_lock:acme:42" in store.claims
    assert store.claims == set()


def test_explain_says_who_acknowledged_and_what_is_still_to_write() -> None:
    """`sidecar explain`: the incident, acknowledged by whom and when, assignees, pending updates."""
    from sidecar.commands.tickets import incident_lines

    state = fold(None, replace(event(ACKNOWLEDGED, "a", 3), assignees=("Dana",)))
    lines = incident_lines(frozenset({"oncall_acked"}), state)
    assert lines[0].startswith(
        "on-call       incident #7 acknowledged by Dana at 2026-12-07 14:03 UTC"
    )
    assert lines[1] == "assigned to   Dana"
    assert "1 PagerDuty update(s) not yet on the ticket" in lines[2]
    assert incident_lines(frozenset({"oncall_acked"}), None) == [
        "on-call       acknowledged in PagerDuty (tag oncall_acked)"
    ]
    assert incident_lines(frozenset(), None) == []


class Killed(BaseException):
    """The worker's SIGKILL: nothing after it runs (no handler catches it)."""


class KillableStore(DictStore):
    """The memo, whose next write can be the process's last act."""

    def __init__(self) -> None:
        super().__init__()
        self.kill_next_write = False

    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
        if self.kill_next_write:
            self.kill_next_write = False
            raise Killed
        super().set_memo(key, value, ttl_seconds=ttl_seconds)


class CommentedZendesk(FloorZendesk):
    """FloorZendesk that keeps each note as the ticket's newest comment.

    List Comments (OAS ListTicketComments, "Sorting": ``sort=-created_at``
    with cursor pagination, at most 100 a page): newest first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.budget_open = True
        self.notes: list[str] = []
        self.comment_reads = 0
        self.after_write: list[Callable[[], None]] = []

    def update_ticket(self, update: TicketUpdate) -> str | None:
        super().update_ticket(update)
        if update.private_note:
            self.notes.append(update.private_note)
        while self.after_write:
            self.after_write.pop(0)()
        return None

    def latest_comment_texts(self, ticket_id: int, *, count: int) -> list[CommentText]:
        self.comment_reads += 1
        newest = list(reversed(self.notes))[: min(count, 100)]
        return [
            CommentText(
                id=n,
                author_id=1,
                author_role="admin",
                author_name="sidecar",
                public=False,
                created_at=datetime(2026, 12, 7, tzinfo=UTC),
                body=body,
            )
            for n, body in enumerate(newest)
        ]


def _killable() -> tuple[CommentedZendesk, KillableStore, OncallBack]:
    zendesk, store = CommentedZendesk(), KillableStore()
    back = OncallBack(
        zendesk=lambda: zendesk, states=OncallStates(store, account="acme")
    )
    return zendesk, store, back


def test_a_job_killed_after_its_write_does_not_write_the_note_again() -> None:
    """Killed between the ticket write and clearing the lines: the re-run writes nothing."""
    zendesk, store, back = _killable()
    zendesk.after_write.append(lambda: setattr(store, "kill_next_write", True))
    with pytest.raises(Killed):
        back.apply(42, event(ACKNOWLEDGED, "a", 3))
    back.apply(42, event(ACKNOWLEDGED, "a", 3))  # back from its in-flight record
    assert len(zendesk.notes) == 1
    assert "On-call acknowledged" in zendesk.notes[0]
    # A later event writes its own line only.
    back.apply(42, event(ANNOTATED, "n", 3))
    assert len(zendesk.notes) == 2 and "On-call acknowledged" not in zendesk.notes[1]


def test_a_job_killed_before_its_write_writes_the_note_on_the_rerun() -> None:
    """Killed after marking the lines but before the write: the re-run finds no note, writes it."""
    zendesk, _store, back = _killable()
    real_update = zendesk.update_ticket

    def killed_instead(update: TicketUpdate) -> str | None:
        raise Killed

    zendesk.update_ticket = killed_instead  # type: ignore[method-assign]
    with pytest.raises(Killed):
        back.apply(42, event(ACKNOWLEDGED, "a", 3))
    zendesk.update_ticket = real_update  # type: ignore[method-assign]
    back.apply(42, event(ACKNOWLEDGED, "a", 3))
    assert len(zendesk.notes) == 1 and "On-call acknowledged" in zendesk.notes[0]


def test_a_normal_run_reads_no_comments() -> None:
    """The comment read is for recovery only: a run after a clean one costs nothing more."""
    zendesk, _, back = _killable()
    back.apply(42, event(ACKNOWLEDGED, "a", 3))
    back.apply(42, event(ANNOTATED, "n", 3))
    assert len(zendesk.notes) == 2 and zendesk.comment_reads == 0
