"""The on-call lookup (sidecar.oncall.whois) against the fake PagerDuty REST API over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sidecar.config import Config, Secret
from sidecar.errors import ConfigError
from sidecar.oncall.pagerduty import key_fingerprint
from sidecar.oncall.whois import OnCallDirectory, OnCallNow, parse_policies
from tests.fake_pagerduty_rest import FakePagerDutyRest, shift_now

ROUTING_KEY = Secret("R0UT1NGKEY0123456789abcdef012345")
OTHER_KEY = Secret("0THERKEY0123456789abcdef01234567")


@pytest.fixture
def rest() -> Iterator[FakePagerDutyRest]:
    with FakePagerDutyRest() as fake:
        fake.add_policy(
            "PEP1",
            "Support escalation",
            [shift_now("Tim Wright", 1), shift_now("Ana Lima", 2)],
        )
        fake.add_policy("PEP2", "Platform", [shift_now("Kim Park", 1)])
        fake.add_service("PSVC9", "Checkout", "PEP2")
        yield fake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def directory(
    rest: FakePagerDutyRest, policies: str, *, token: str | None = None, clock=None
) -> OnCallDirectory:
    return OnCallDirectory(
        token=Secret(token or rest.token),
        policies=parse_policies(policies),
        default_route=key_fingerprint(ROUTING_KEY),
        url=rest.url,
        clock=clock or Clock(),
    )


def test_the_default_key_shows_the_first_level_of_its_policy(
    rest: FakePagerDutyRest,
) -> None:
    """`default=PEP1`: the level-1 person, the policy's name; level 2 is not who is paged first."""
    who = directory(rest, "default=PEP1").who(ROUTING_KEY)
    assert who == OnCallNow(True, ("Tim Wright",), "Support escalation", 1)
    assert who.text() == "Tim Wright (Support escalation, level 1)"
    ((path, query),) = rest.calls()
    assert path == "/oncalls"
    assert query == {"escalation_policy_ids[]": ["PEP1"], "earliest": ["true"]}


def test_a_service_is_read_for_its_escalation_policy(rest: FakePagerDutyRest) -> None:
    """`<fingerprint>=service:PSVC9`: the service's policy, then its on-calls."""
    mapping = f"{key_fingerprint(OTHER_KEY)}=service:PSVC9"
    who = directory(rest, mapping).who(OTHER_KEY)
    assert who.people == ("Kim Park",) and who.policy == "Platform"
    assert [p for p, _ in rest.calls()] == ["/services/PSVC9", "/oncalls"]


def test_answers_are_cached_a_minute(rest: FakePagerDutyRest) -> None:
    """Within 60 s no second request; after it, one."""
    clock = Clock()
    lookup = directory(rest, "default=PEP1", clock=clock)
    lookup.who(ROUTING_KEY)
    clock.now += 59
    lookup.who(ROUTING_KEY)
    assert len(rest.calls()) == 1
    clock.now += 2
    lookup.who(ROUTING_KEY)
    assert len(rest.calls()) == 2


def test_a_failure_is_an_answer_and_cached_too(rest: FakePagerDutyRest) -> None:
    """PagerDuty down: "unknown (PagerDuty answered HTTP 503)", and no hammering."""
    rest.fail_next(5, 503)
    lookup = directory(rest, "default=PEP1")
    who = lookup.who(ROUTING_KEY)
    assert who.text() == "unknown (PagerDuty answered HTTP 503)"
    assert lookup.who(ROUTING_KEY) == who
    assert len(rest.calls()) == 1


def test_a_wrong_token_says_so_without_showing_it(rest: FakePagerDutyRest) -> None:
    """401: the reason names the refusal, never the token."""
    who = directory(rest, "default=PEP1", token="wrong-token").who(ROUTING_KEY)
    assert who.text() == "unknown (PagerDuty refused the API token (HTTP 401))"
    assert "wrong-token" not in who.text()


def test_an_unmapped_key_asks_nothing(rest: FakePagerDutyRest) -> None:
    """A routing key without a mapping: unknown, naming the setting; no request."""
    who = directory(rest, "default=PEP1").who(OTHER_KEY)
    assert not who.known
    assert "SIDECAR_PAGERDUTY_ONCALL_POLICIES" in who.reason
    assert key_fingerprint(OTHER_KEY) in who.reason
    assert rest.calls() == []


def test_unreachable_pagerduty_is_unknown() -> None:
    """Nothing listening: unknown, quickly, no exception."""
    lookup = OnCallDirectory(
        token=Secret("t"), policies={"default": "PEP1"}, url="http://127.0.0.1:9"
    )
    assert lookup.who("anything").known is False


def test_nobody_on_call_is_said_plainly(rest: FakePagerDutyRest) -> None:
    """A policy with no current on-call: "nobody is on call"."""
    rest.add_policy("PEMPTY", "Night", [])
    who = directory(rest, "default=PEMPTY").who(ROUTING_KEY)
    assert who.known and who.text() == "nobody is on call (escalation policy)"


def test_the_mapping_is_parsed_strictly() -> None:
    """Entries are ROUTE=TARGET; anything else is a ConfigError naming the setting."""
    assert parse_policies(" default = PEP1 , ab12cd34=service:PSVC9 ") == {
        "default": "PEP1",
        "ab12cd34": "service:PSVC9",
    }
    assert parse_policies(None) == {}
    with pytest.raises(ConfigError, match="SIDECAR_PAGERDUTY_ONCALL_POLICIES"):
        parse_policies("PEP1")


def test_off_without_a_token_and_http_only_locally() -> None:
    """No SIDECAR_PAGERDUTY_API_TOKEN: no directory; plain http only to loopback."""
    assert OnCallDirectory.from_config(Config()) is None
    with pytest.raises(ConfigError, match="plain http"):
        OnCallDirectory(
            token=Secret("t"), policies={}, url="http://pagerduty.example.com"
        )
