"""The Issue Severity field's own options, mapped to severities with the receiver's parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.errors import ConfigError
from sidecar.sla.severity import parse_severity
from sidecar.zendesk.severity_options import severity_tags


def options(*tags: str) -> list[dict[str, str]]:
    return [{"name": tag.upper(), "value": tag} for tag in tags]


def test_the_accounts_own_tags_are_used() -> None:
    """severity_1…severity_5 map to 1…5, each to its own tag."""
    tags = [f"severity_{n}" for n in range(1, 6)]
    assert severity_tags(options(*tags)) == dict(enumerate(tags, start=1))


def test_options_that_are_not_severities_are_ignored() -> None:
    """An extra option ("Not sure") does not stop the mapping."""
    found = severity_tags(options("not_sure", *[f"sev{n}" for n in range(1, 6)]))
    assert found[1] == "sev1" and len(found) == 5


def test_the_first_of_two_tags_for_one_severity_wins() -> None:
    """Two options reading as SEV 1: the first listed is written."""
    found = severity_tags(
        options("sev_1", "severity_1", "sev_2", "sev_3", "sev_4", "sev_5")
    )
    assert found[1] == "sev_1"


def test_a_missing_severity_names_every_option_and_what_is_missing() -> None:
    """Four options: the error lists them and names SEV 5."""
    with pytest.raises(ConfigError) as caught:
        severity_tags(
            [
                {"name": "P1 urgent", "value": "p1"},
                *options("sev_2", "sev_3", "sev_4"),
                {"name": "Low", "value": "low"},
            ]
        )
    text = str(caught.value)
    assert "no option for SEV 1, SEV 5" in text
    assert "'P1 urgent' (tag 'p1')" in text and "'Low' (tag 'low')" in text
    assert "run again" in text


def test_no_options_at_all() -> None:
    """A field without options says so."""
    with pytest.raises(ConfigError, match="Its options are: none"):
        severity_tags([])


TAG_FORMS = st.sampled_from(
    ["sev_{n}", "sev{n}", "severity_{n}", "sev-{n}", "sev_{n}_-_critical"]
)


@given(
    forms=st.lists(TAG_FORMS, min_size=5, max_size=5),
    noise=st.lists(st.sampled_from(["other", "p1", "question"]), max_size=3),
)
def test_every_mapped_tag_parses_back_to_its_severity(
    forms: list[str], noise: list[str]
) -> None:
    """Whatever tag forms an account uses, the tag written for N parses as N."""
    tags = [form.format(n=n) for n, form in enumerate(forms, start=1)]
    found = severity_tags(options(*noise, *tags))
    assert sorted(found) == [1, 2, 3, 4, 5]
    assert all(parse_severity(tag) == n for n, tag in found.items())
