"""sidecar.zendesk.parse: any JSON in any field parses or raises BadResponse, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sidecar.errors import BadResponse
from sidecar.zendesk import parse

# What json.loads can produce (Python's json accepts NaN and Infinity too).
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)

TICKET: dict[str, Any] = {
    "id": 42,
    "subject": "Database down",
    "status": "open",
    "created_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-01T10:05:07Z",
    "organization_id": 7,
    "requester_id": 100,
    "tags": ["sev_1"],
    "custom_fields": [{"id": 111, "value": "sev_1"}],
    "follower_ids": [5],
}
COMMENT: dict[str, Any] = {
    "id": 1,
    "author_id": 200,
    "public": True,
    "created_at": "2024-05-01T10:01:00Z",
}
ORG: dict[str, Any] = {
    "id": 9,
    "name": "Acme",
    "external_id": "acme",
    "organization_fields": {"support_plan": "enterprise", "enterprise_support": True},
    "tags": ["vip"],
}


def _parses_or_refuses(build: Any, data: Any) -> Any:
    try:
        return build(data)
    except BadResponse as exc:
        assert str(exc).startswith("zendesk ")
        return None


# Parsing takes microseconds; a loaded CI box must not turn GC pauses into failures.
@settings(deadline=None)
@given(field=st.sampled_from(sorted(TICKET)), value=JSON)
@example(field="status", value=True)
@example(field="id", value=float("inf"))
@example(field="created_at", value="9999-12-31T23:59:59Z")
@example(field="custom_fields", value=[{"id": 1, "value": float("nan")}])
def test_any_json_in_a_ticket_field_parses_or_is_a_bad_response(
    field: str, value: Any
) -> None:
    """A ticket whose one field holds arbitrary JSON parses, or raises BadResponse only."""
    ticket = _parses_or_refuses(parse.ticket, {**TICKET, field: value})
    if ticket is not None:
        assert ticket.id > 0
        assert ticket.status in parse.TICKET_STATUSES
        assert datetime(1970, 1, 1, tzinfo=UTC) <= ticket.created_at
        assert ticket.created_at.year < parse.LATEST_YEAR
        assert all(isinstance(tag, str) for tag in ticket.tags)


# Parsing takes microseconds; a loaded CI box must not turn GC pauses into failures.
@settings(deadline=None)
@given(field=st.sampled_from(sorted(TICKET)))
def test_a_missing_ticket_field_parses_or_is_a_bad_response(field: str) -> None:
    """Dropping any one field gives a ticket (optional fields) or BadResponse."""
    data = {k: v for k, v in TICKET.items() if k != field}
    _parses_or_refuses(parse.ticket, data)


# Parsing takes microseconds; a loaded CI box must not turn GC pauses into failures.
@settings(deadline=None)
@given(field=st.sampled_from(sorted(COMMENT)), value=JSON)
@example(field="public", value="false")
@example(field="public", value=0)
def test_any_json_in_a_comment_field_parses_or_is_a_bad_response(
    field: str, value: Any
) -> None:
    """A comment field holding arbitrary JSON parses, or raises BadResponse only;
    ``public`` is only ever a real boolean."""
    page = {"comments": [{**COMMENT, field: value}], "users": []}
    comments = _parses_or_refuses(parse.comments, [page])
    if comments is not None:
        (comment,) = comments
        assert type(comment.public) is bool
        if field == "public":
            assert comment.public is value


# Parsing takes microseconds; a loaded CI box must not turn GC pauses into failures.
@settings(deadline=None)
@given(users=JSON, comments=JSON)
def test_any_json_as_a_comments_page_parses_or_is_a_bad_response(
    users: Any, comments: Any
) -> None:
    """Whole pages of arbitrary JSON never raise anything but BadResponse."""
    _parses_or_refuses(parse.comments, [{"comments": comments, "users": users}])


# Parsing takes microseconds; a loaded CI box must not turn GC pauses into failures.
@settings(deadline=None)
@given(field=st.sampled_from(sorted(ORG)), value=JSON)
def test_any_json_in_an_organization_field_parses_or_is_a_bad_response(
    field: str, value: Any
) -> None:
    """An organization field holding arbitrary JSON parses, or raises BadResponse only."""
    org = _parses_or_refuses(parse.organization, {**ORG, field: value})
    if org is not None:
        assert org.id > 0
        assert org.external_id is None or isinstance(org.external_id, str)


# Parsing takes microseconds; a loaded CI box must not turn GC pauses into failures.
@settings(deadline=None)
@given(data=JSON)
def test_any_json_as_a_whole_object_parses_or_is_a_bad_response(data: Any) -> None:
    """Arbitrary JSON where a ticket or organization is expected: BadResponse only."""
    _parses_or_refuses(parse.ticket, data)
    _parses_or_refuses(parse.organization, data)


# Parsing takes microseconds; a loaded CI box must not turn GC pauses into failures.
@settings(deadline=None)
@given(value=JSON | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()))
def test_timestamps_are_aware_utc_in_range_or_refused(value: Any) -> None:
    """timestamp() returns an aware UTC datetime in 1970..2199, or BadResponse."""
    parsed = _parses_or_refuses(parse.timestamp, value)
    if parsed is not None:
        assert (
            parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
        )
        assert 1970 <= parsed.year < parse.LATEST_YEAR


def test_a_valid_ticket_keeps_every_value() -> None:
    """The happy path: values arrive as the model's types, updated_at verbatim."""
    ticket = parse.ticket({**TICKET, "status": "Open", "subject": None})
    assert (ticket.id, ticket.status, ticket.subject) == (42, "open", "")
    assert ticket.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert ticket.updated_stamp == "2024-05-01T10:05:07Z"
    assert (ticket.organization_id, ticket.requester_id) == (7, 100)
    assert ticket.custom_fields == {111: "sev_1"}
    assert ticket.follower_ids == (5,)


def test_comments_by_the_system_user_or_without_an_author_parse() -> None:
    """Zendesk's system user (author_id -1, messaging and chat transcripts) and an
    absent author parse as "no person", never as an agent; the page still parses."""
    page = {
        "comments": [
            {**COMMENT, "id": 1, "author_id": 100},
            {**COMMENT, "id": 2, "author_id": -1, "created_at": "2024-05-01T10:02:00Z"},
            {
                **COMMENT,
                "id": 3,
                "author_id": None,
                "created_at": "2024-05-01T10:03:00Z",
            },
            {
                key: value
                for key, value in {**COMMENT, "id": 4}.items()
                if key != "author_id"
            },
            {
                **COMMENT,
                "id": 5,
                "author_id": 200,
                "created_at": "2024-05-01T10:05:00Z",
            },
        ],
        # A users sideload that names the system user (some accounts do) with
        # an agent-like role must not make its comments an agent's.
        "users": [
            {"id": 100, "role": "end-user"},
            {"id": -1, "role": "admin", "name": "Zendesk"},
            {"id": 200, "role": "agent"},
        ],
    }
    comments = parse.comments([page])
    assert [(c.id, c.author_id, c.author_role) for c in comments] == [
        (1, 100, "end-user"),
        (2, None, ""),
        (3, None, ""),
        (4, None, ""),
        (5, 200, "agent"),
    ]


def test_other_negative_or_zero_author_ids_are_still_refused() -> None:
    """Only -1 names the system user; any other id out of range is corrupt data."""
    for bad in (0, -2, 2**63):
        page = {"comments": [{**COMMENT, "author_id": bad}], "users": []}
        try:
            parse.comments([page])
        except BadResponse as exc:
            assert "author_id" in str(exc)
        else:
            raise AssertionError(f"author_id {bad} was accepted")
