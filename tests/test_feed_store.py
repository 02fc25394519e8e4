"""The GitHub feed's state in a real Redis: events queued once whichever source saw them, one poller per
repository with takeover when its holder dies, digests claimed with a lease, and the subscription indexes."""

from __future__ import annotations

import time
import uuid

import redis

from synapse_bot.feed.diff import comment_event, item_events
from synapse_bot.feed.model import Comment, Item
from synapse_bot.feed.subscription import Subscription
from synapse_bot.store.github_digests import BURST_POSTS, DigestStore
from synapse_bot.store.github_feed import FeedState
from synapse_bot.store.keys import Keys
from synapse_bot.store.poll_schedule import PollSchedule
from synapse_bot.store.subscriptions import SubscriptionStore

T0 = 1_800_000_000.0


def keys() -> Keys:
    return Keys(f"test-{uuid.uuid4().hex[:8]}")


def issue(number: int, updated: float) -> Item:
    return Item(repo="acme/widgets", number=number, title="t", created_at=T0 + 1, updated_at=updated)


def test_an_event_found_by_the_webhook_and_again_by_the_poll_is_queued_once(redis_client: redis.Redis) -> None:
    feed = FeedState(redis_client, keys())
    first = issue(1, T0 + 1)
    comment = comment_event(Comment(repo="acme/widgets", number=1, id=42, author="bob", created_at=T0 + 2), first)
    opened = item_events(None, first, T0)
    assert feed.record("acme/widgets", [first], [(None, opened[0]), (comment.key, comment)]) == 2
    # The poll's look at the same things: the item is kept as it was, the comment's id was seen.
    kept = feed.items("acme/widgets", [1])[1]
    assert item_events(kept, first, T0) == []
    assert feed.record("acme/widgets", [first], [(comment.key, comment)]) == 0
    assert [feed.next_event("acme/widgets") is not None, feed.waiting("acme/widgets")] == [True, 2]
    feed.done("acme/widgets")
    feed.done("acme/widgets")
    assert feed.next_event("acme/widgets") is None


def test_one_poller_per_repository_and_a_dead_ones_lease_is_taken_over(redis_client: redis.Redis) -> None:
    schedule = PollSchedule(redis_client, keys())
    schedule.add("acme/widgets", due_at=time.time() - 1)
    assert schedule.claim("worker-a", lease_s=0.3) == "acme/widgets"
    assert schedule.claim("worker-b", lease_s=0.3) is None  # held
    assert schedule.renew("acme/widgets", "worker-a", 0.3)
    assert not schedule.renew("acme/widgets", "worker-b", 0.3)
    # worker-a dies without releasing: once its lease ends the repository is due again, for anyone.
    deadline = time.monotonic() + 5
    taken = None
    while taken is None and time.monotonic() < deadline:
        taken = schedule.claim("worker-b", lease_s=5)
        time.sleep(0.02)
    assert taken == "acme/widgets"
    assert not schedule.release("acme/widgets", "worker-a", time.time() + 60)  # the dead one's token is stale
    assert schedule.release("acme/widgets", "worker-b", time.time() + 60)
    assert (schedule.next_due() or 0) > time.time() + 50


def test_requests_are_paced_for_every_process_together(redis_client: redis.Redis) -> None:
    prefix = keys()
    first, second = PollSchedule(redis_client, prefix), PollSchedule(redis_client, prefix)
    waits = [s.take_request() for s in (first, second) * 10]
    assert waits[:10] == [0.0] * 10  # the burst allowance
    assert all(w > 0 for w in waits[10:])  # then both wait, whichever process asks


def test_a_burst_folds_into_one_digest_claimed_with_a_lease(redis_client: redis.Redis) -> None:
    digests = DigestStore(redis_client, keys())
    events = [item_events(None, issue(n, T0 + 1), T0)[0] for n in range(1, 10)]
    allowed = [digests.may_post("T1", "C1", "acme/widgets") for _ in events]
    assert allowed == [True] * BURST_POSTS + [False] * (len(events) - BURST_POSTS)
    for event in events[BURST_POSTS:]:
        assert digests.fold("T1", "C1", "acme/widgets", event)
    assert not digests.fold("T1", "C1", "acme/widgets", events[-1])  # a rerun folds nothing twice
    later = time.time() + 120
    [(team, channel, repo, folded)] = digests.take_due(later, lease_s=30)
    assert (team, channel, repo, [e.key for e in folded]) == ("T1", "C1", "acme/widgets", [e.key for e in events[5:]])
    assert digests.take_due(later) == []  # leased to the first claimer
    # It died before posting: after the lease the same digest is claimed again, and once posted it is gone.
    [(_, _, _, again)] = digests.take_due(later + 31)
    assert [e.key for e in again] == [e.key for e in folded]
    digests.posted("T1", "C1", "acme/widgets", len(again))
    assert digests.take_due(later + 3600) == []


def test_subscriptions_are_indexed_by_repository_and_by_channel(redis_client: redis.Redis) -> None:
    prefix = keys()
    schedule = PollSchedule(redis_client, prefix)
    store = SubscriptionStore(redis_client, prefix, schedule)
    dev = Subscription(team_id="T1", channel_id="C1", repo="Acme/Widgets", creator="U1")
    assert store.save(dev) is None
    assert schedule.scheduled() == ["acme/widgets"]
    replaced = store.save(dev.model_copy(update={"triage": True}))
    assert replaced is not None and not replaced.triage
    store.save(Subscription(team_id="T2", channel_id="C9", repo="acme/widgets", creator="U2"))
    assert [s.team_id for s in store.for_repo("ACME/widgets")] == ["T1", "T2"]
    assert [s.triage for s in store.in_channel("T1", "C1")] == [True]
    assert store.remove("T1", "C1", "acme/widgets") is not None
    assert store.repos() == ["acme/widgets"] and schedule.scheduled() == ["acme/widgets"]
    store.remove("T2", "C9", "acme/widgets")
    assert store.repos() == [] and schedule.scheduled() == []
