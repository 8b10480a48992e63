"""Parsing the "Issue Severity" values Zendesk sends."""

from __future__ import annotations

import pytest

from sidecar.errors import SidecarError
from sidecar.sla import SeverityError, parse_severity


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sev_1", 1),
        ("sev1", 1),
        ("severity_1", 1),
        ("SEV 1", 1),
        ("sev-2", 2),
        ("  Sev   3 ", 3),
        ("SEV 1 - Critical (Business-Critical Impact)", 1),
        ("SEV 2 - High (Business Impact)", 2),
        ("sev_2_-_high__business_impact_", 2),
        ("Critical (SEV 1)", 1),
        ("Lowest (SEV 5)", 5),
        ("medium ( sev 3 )", 3),
        ("4", 4),
        (" 5 ", 5),
        (1, 1),
        (5, 5),
    ],
)
def test_known_forms_parse(value: object, expected: int) -> None:
    """Option tags, titles and integers 1-5 give their severity, any case or spacing."""
    assert parse_severity(value) == expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_means_no_sla(value: object) -> None:
    """An empty or missing severity is "no SLA", not an error."""
    assert parse_severity(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "sev6",
        "sev_0",
        "sev12",
        "P1",
        "critical",
        "6",
        "13",
        "01",
        0,
        6,
        -1,
        3.0,
        True,
        b"1",
        "high (sev 7)",
        "sev 1x",
    ],
)
def test_anything_else_is_a_typed_error_naming_the_value(value: object) -> None:
    """Unknown values raise SeverityError whose message names the value."""
    with pytest.raises(SeverityError) as caught:
        parse_severity(value)
    assert repr(value) in str(caught.value)
    assert caught.value.value == value
    assert isinstance(caught.value, SidecarError) and isinstance(
        caught.value, ValueError
    )
