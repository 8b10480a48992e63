"""The strict test doubles and the contract fragments encode the same published rules.

tests/fake_zendesk.py (via tests/zendesk_contract.py) and
tests/fake_pagerduty.py enforce the contract at run time; tests/contract checks
requests against fragments copied separately. Two copies of one rule drift
apart unless something compares them: this does.
"""

from __future__ import annotations

from tests import fake_pagerduty, zendesk_contract
from tests.contract import pagerduty_events
from tests.contract.zendesk_oas import TICKET_UPDATE_INPUT


def test_single_ticket_update_properties_agree() -> None:
    """OAS TicketUpdateInput: the fake accepts exactly what the fragment allows."""
    fragment = set(TICKET_UPDATE_INPUT["properties"])
    assert fragment == set(zendesk_contract.TICKET_UPDATE_PROPERTIES)
    assert not fragment & set(zendesk_contract.BULK_ONLY_TAG_PROPERTIES)


def test_pagerduty_event_rules_agree() -> None:
    """'Send an Alert Event' / 'Events API v2 Overview': same properties and limits."""
    assert set(pagerduty_events.TRIGGER["properties"]) == set(
        fake_pagerduty.EVENT_PROPERTIES
    )
    assert set(pagerduty_events.PAYLOAD["properties"]) == set(
        fake_pagerduty.PAYLOAD_PROPERTIES
    )
    payload = pagerduty_events.PAYLOAD["properties"]
    assert set(payload["severity"]["enum"]) == set(fake_pagerduty.SEVERITIES)
    assert payload["summary"]["maxLength"] == fake_pagerduty.MAX_SUMMARY
    assert pagerduty_events.DEDUP_KEY["maxLength"] == fake_pagerduty.MAX_DEDUP_KEY
    assert (
        pagerduty_events.ROUTING_KEY["maxLength"] == fake_pagerduty.ROUTING_KEY_LENGTH
    )
    assert pagerduty_events.MAX_EVENT_BYTES == fake_pagerduty.MAX_EVENT_BYTES
