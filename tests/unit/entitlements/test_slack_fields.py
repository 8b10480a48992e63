"""The Slack app's fields in the entitlements file: slack_channel and default_requester_email."""

from __future__ import annotations

import pytest

from sidecar.entitlements import EntitlementsError, parse_entitlements


def test_channel_and_default_requester_are_read_and_looked_up() -> None:
    """An org's channel maps back to it; the requester email is kept trimmed."""
    parsed = parse_entitlements(
        {
            "orgs": {
                "101": {
                    "slack_channel": "C0123ABCDEF",
                    "default_requester_email": " ops@acme.example ",
                },
                "ext:beta": {"slack_channel": "G0456GHIJKL"},
            }
        }
    )
    acme = parsed.for_channel("C0123ABCDEF")
    assert acme is not None and acme.org_id == 101
    assert acme.default_requester_email == "ops@acme.example"
    beta = parsed.for_channel("G0456GHIJKL")
    assert beta is not None and beta.external_id == "beta"
    assert parsed.for_channel("C0NOTMAPPED1") is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("#acme-support", "slack_channel: '#acme-support' is not a Slack channel id"),
        ("c0123abcdef", "slack_channel: 'c0123abcdef' is not a Slack channel id"),
        (42, "slack_channel: 42 is not a Slack channel id"),
    ],
)
def test_a_channel_name_instead_of_an_id_is_refused(
    value: object, problem: str
) -> None:
    """Channel names change and are not unique: the file must hold the id."""
    with pytest.raises(EntitlementsError) as caught:
        parse_entitlements({"orgs": {"101": {"slack_channel": value}}})
    assert any(problem in p for p in caught.value.problems)


def test_one_channel_cannot_belong_to_two_orgs() -> None:
    """A channel maps to one organization; a second claim names the first."""
    with pytest.raises(EntitlementsError) as caught:
        parse_entitlements(
            {
                "orgs": {
                    "101": {"slack_channel": "C0123ABCDEF"},
                    "102": {"slack_channel": "C0123ABCDEF"},
                }
            }
        )
    assert caught.value.problems == [
        "org 102: slack_channel: C0123ABCDEF is already the channel of org 101"
    ]


def test_a_bad_default_requester_is_refused() -> None:
    """default_requester_email must be an email address."""
    with pytest.raises(EntitlementsError) as caught:
        parse_entitlements({"orgs": {"101": {"default_requester_email": "ops"}}})
    assert caught.value.problems == [
        "org 101: default_requester_email: 'ops' is not an email address"
    ]
