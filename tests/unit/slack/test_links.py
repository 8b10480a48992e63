"""Thread ↔ ticket links, said-once marks and the reconciler's Slack hook, on a real SQLite queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sidecar.domain.models import Organization
from sidecar.entitlements import EntitlementsStore
from sidecar.errors import Transient
from sidecar.slack.blocks import MessageRef
from sidecar.slack.links import COMMENTING_SECONDS, Links, external_id
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.slack_notify import ThreadNotifier

REF = MessageRef(channel="C0SHARED01", ts="1.000200", thread_ts="1.000100", author="U1")


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    q = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    yield q
    q.close()


def test_links_go_both_ways_and_name_the_message(queue: JobQueue) -> None:
    """A remembered ticket finds its thread (the parent), and the thread its ticket."""
    links = Links(queue, account="acme")
    links.remember(7, REF)
    assert links.thread_of(7) == REF
    assert links.ticket_of("C0SHARED01", "1.000100") == 7
    assert links.ticket_of("C0SHARED01", "1.000200") is None
    assert links.thread_of(8) is None
    assert external_id(REF) == "slack-C0SHARED01-1.000200"


def test_say_once_posts_once_and_retries_a_failed_post(queue: JobQueue) -> None:
    """A post that fails leaves no mark (the retry posts); after success nothing posts again."""
    links = Links(queue, account="acme")
    posted: list[str] = []

    def failing() -> None:
        raise Transient("slack down", service="slack")

    with pytest.raises(Transient):
        links.say_once(7, "opened", failing)
    assert not links.said(7, "opened")
    assert links.say_once(7, "opened", lambda: posted.append("x")) is True
    assert links.say_once(7, "opened", lambda: posted.append("y")) is False
    assert posted == ["x"] and links.said(7, "opened")


def test_a_post_in_flight_elsewhere_makes_the_second_retry(queue: JobQueue) -> None:
    """While another worker holds the posting claim, a second one retries instead of posting."""
    links = Links(queue, account="acme")
    assert queue.claim("slack_posting:acme:7:solved", ttl_seconds=60)
    with pytest.raises(Transient):
        links.say_once(7, "solved", lambda: None)


def test_own_comments_are_recognised(queue: JobQueue) -> None:
    """A comment made from Slack is known by id; others are not."""
    links = Links(queue, account="acme")
    links.own_comment(55)
    assert links.is_own_comment(55) and not links.is_own_comment(56)


def plan_of(ticket_id: int, org: Organization | None = None) -> Any:
    return SimpleNamespace(ticket=SimpleNamespace(id=ticket_id), organization=org)


def entitlements_with_channel(tmp_path: Path) -> EntitlementsStore:
    path = tmp_path / "entitlements.toml"
    path.write_text('[orgs."9"]\nslack_channel = "C0SHARED01"\n')
    store = EntitlementsStore(path)
    store.load()
    return store


def test_the_hook_schedules_one_sync_for_slack_tickets_only(
    queue: JobQueue, tmp_path: Path
) -> None:
    """After a reconcile: a sync for a ticket with a thread (coalesced while queued), none otherwise."""
    links = Links(queue, account="acme")
    links.remember(7, REF)
    hook = ThreadNotifier(jobs=queue.slack, links=links, store=EntitlementsStore(None))
    hook.notify_reconciled(plan_of(7))
    hook.notify_reconciled(plan_of(7))
    hook.notify_reconciled(plan_of(8))
    assert [(j.task, j.subject_id) for j in queue.pending_jobs()] == [("slack_sync", 7)]


def test_the_page_notice_goes_to_slack_when_it_has_somewhere_to_go(
    queue: JobQueue, tmp_path: Path
) -> None:
    """notify_paged is True for a Slack-born ticket or an org with a channel, False otherwise."""
    links = Links(queue, account="acme")
    links.remember(7, REF)
    hook = ThreadNotifier(
        jobs=queue.slack, links=links, store=entitlements_with_channel(tmp_path)
    )
    mapped = Organization(id=9, name="Acme", external_id=None, fields={})
    other = Organization(id=10, name="Other", external_id=None, fields={})
    assert hook.notify_paged(plan_of(7)) is True
    assert hook.notify_paged(plan_of(20, mapped)) is True
    assert hook.notify_paged(plan_of(21, other)) is False
    assert hook.notify_paged(plan_of(22)) is False
    assert sorted(j.subject_id for j in queue.pending_jobs()) == [7, 20]


def test_a_comment_being_written_holds_syncs_back_for_a_bounded_time(
    queue: JobQueue,
) -> None:
    """begin/end bracket the write; a marker left by a killed worker lapses."""
    links = Links(queue, account="acme")
    assert not links.commenting(7)
    links.begin_comment(7)
    assert links.commenting(7) and not links.commenting(8)
    links.end_comment(7)
    assert not links.commenting(7)
    stale = datetime.now(UTC) - timedelta(seconds=COMMENTING_SECONDS + 1)
    queue.set_flag("slack_commenting:acme:7", stale.isoformat())
    assert not links.commenting(7)
