"""The GitHub feed's pure rules: what changed between two looks, which channels an event belongs in, the
subscription grammar, GitHub's JSON, the cards, and the webhook signature."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from synapse_bot.background.github_webhook import signature_valid
from synapse_bot.feed.cards import card_text, digest_text, thread_line
from synapse_bot.feed.diff import Event, EventKind, check_event, comment_event, item_events, review_event
from synapse_bot.feed.filters import matches, newly_matches
from synapse_bot.feed.model import CheckRun, Comment, Item, Review, is_bot, parse_time
from synapse_bot.feed.payloads import PayloadError, from_webhook, item_from_issue
from synapse_bot.feed.subscription import Filters, Kind, Subscription
from synapse_bot.tools.grammar import FastPathError, ToolCall
from synapse_bot.tools.subscribe_repo import parse_terms

T0 = 1_800_000_000.0  # when the repository was first subscribed to


def item(number: int = 7, **fields: object) -> Item:
    values: dict[str, object] = {
        "repo": "acme/widgets",
        "number": number,
        "title": "Login crashes",
        "url": f"https://github.com/acme/widgets/issues/{number}",
        "author": "alice",
        "created_at": T0 + 10,
        "updated_at": T0 + 10,
        **fields,
    }
    return Item.model_validate(values)


def sub(**fields: object) -> Subscription:
    values: dict[str, object] = {
        "team_id": "T1",
        "channel_id": "C1",
        "repo": "acme/widgets",
        "created_at": T0,
        **fields,
    }
    return Subscription.model_validate(values)


def kinds(events: list[Event]) -> list[EventKind]:
    return [e.kind for e in events]


# What changed ----------------------------------------------------------------------------------------


def test_an_item_created_after_tracking_began_is_opened_and_an_older_one_is_only_a_starting_point() -> None:
    assert kinds(item_events(None, item(), T0)) == [EventKind.OPENED]
    old = item(created_at=T0 - 3600, updated_at=T0 + 5)
    assert item_events(None, old, T0) == []
    closed_since = item(created_at=T0 - 3600, updated_at=T0 + 5, state="closed", closed_at=T0 + 5)
    assert kinds(item_events(None, closed_since, T0)) == [EventKind.CLOSED]


def test_state_changes_between_two_looks() -> None:
    opened = item()
    closed = item(state="closed", closed_at=T0 + 20, updated_at=T0 + 20)
    assert kinds(item_events(opened, closed, T0)) == [EventKind.CLOSED]
    reopened = item(updated_at=T0 + 30)
    assert kinds(item_events(closed, reopened, T0)) == [EventKind.REOPENED]
    pull = item(is_pull=True, draft=True)
    ready = item(is_pull=True, draft=False, updated_at=T0 + 40)
    assert kinds(item_events(pull, ready, T0)) == [EventKind.READY]
    merged = item(is_pull=True, state="closed", merged=True, merged_at=T0 + 50, updated_at=T0 + 50)
    assert kinds(item_events(ready, merged, T0)) == [EventKind.MERGED]


def test_labels_and_titles_change_the_card_and_the_same_look_twice_changes_nothing() -> None:
    before = item(labels=["bug"])
    after = item(labels=["bug", "p1"], updated_at=T0 + 20)
    [labeled] = item_events(before, after, T0)
    assert labeled.kind is EventKind.LABELED and labeled.previous_labels == ["bug"]
    assert kinds(item_events(before, item(labels=["bug"], title="Login crashes on SSO", updated_at=T0 + 20), T0)) == [
        EventKind.EDITED
    ]
    assert item_events(after, after, T0) == []  # the webhook's look, then the poll's


def test_an_older_look_than_the_one_kept_is_ignored() -> None:
    """A poll that read the list before a webhook's change arrived must not undo it (no false 'reopened')."""
    closed = item(state="closed", closed_at=T0 + 20, updated_at=T0 + 20)
    stale_open = item(updated_at=T0 + 10)
    assert item_events(closed, stale_open, T0) == []


def test_event_keys_are_the_same_from_either_source() -> None:
    comment = Comment(repo="acme/widgets", number=7, id=99, author="bob", created_at=T0 + 1)
    assert comment_event(comment, None).key == comment_event(comment, item()).key == "comment:99"
    quiet = Review(repo="acme/widgets", number=7, id=5, reviewer="bob", state="COMMENTED", body="")
    assert review_event(quiet, None) is None  # the wrapper of inline comments, not news
    passing = CheckRun(repo="acme/widgets", numbers=[7], id=3, name="ci", conclusion="success")
    assert check_event(passing, None, 7) is None
    failing = passing.model_copy(update={"conclusion": "failure"})
    assert check_event(failing, None, 7) is not None


# Which channels --------------------------------------------------------------------------------------


def opened(**fields: object) -> Event:
    [event] = item_events(None, item(**fields), T0)
    return event


def test_only_what_happened_after_the_subscription_was_confirmed() -> None:
    assert matches(sub(), opened())
    assert not matches(sub(created_at=T0 + 60), opened())
    # Within the second of confirming, GitHub's whole-second times cannot tell: the numbers can.
    same_second = sub(created_at=T0 + 10.6, known_up_to=7)
    assert not matches(same_second, opened(number=7, created_at=T0 + 10))  # it existed at confirmation
    assert matches(same_second, opened(number=8, created_at=T0 + 10))


def test_kinds() -> None:
    assert matches(sub(kinds=[Kind.ISSUES]), opened())
    assert not matches(sub(kinds=[Kind.PULLS]), opened())
    assert matches(sub(kinds=[Kind.PULLS]), opened(is_pull=True))
    comment = comment_event(Comment(repo="acme/widgets", number=7, id=1, author="bob", created_at=T0 + 20), item())
    assert not matches(sub(), comment)  # default kinds: issues and pulls
    assert matches(sub(kinds=[Kind.ISSUES, Kind.COMMENTS]), comment)
    on_pull = comment.model_copy(update={"item": item(is_pull=True)})
    assert not matches(sub(kinds=[Kind.ISSUES, Kind.COMMENTS]), on_pull)  # comments follow the item kinds named
    assert matches(sub(kinds=[Kind.COMMENTS]), on_pull)  # none named: comments on both


@pytest.mark.parametrize(
    ("filters", "labels", "expected"),
    [
        (Filters(label_groups=[["bug", "crash"]]), ["crash"], True),  # any of
        (Filters(label_groups=[["bug", "crash"]]), ["docs"], False),
        (Filters(label_groups=[["bug"], ["p1"]]), ["bug"], False),  # all of
        (Filters(label_groups=[["bug"], ["p1"]]), ["P1", "Bug"], True),  # case-insensitive
        (Filters(excluded_labels=["wontfix"]), ["bug", "wontfix"], False),  # none of
        (Filters(), [], True),
    ],
)
def test_label_filters(filters: Filters, labels: list[str], expected: bool) -> None:
    assert matches(sub(filters=filters), opened(labels=labels)) is expected


def test_author_path_and_bot_filters() -> None:
    assert matches(sub(filters=Filters(authors=["alice"])), opened())
    assert not matches(sub(filters=Filters(authors=["bob"])), opened())
    assert not matches(sub(filters=Filters(excluded_authors=["ALICE"])), opened())
    pull = opened(is_pull=True, files=["src/api/login.py", "README.md"])
    assert matches(sub(filters=Filters(paths=["src/api"])), pull)
    assert not matches(sub(filters=Filters(paths=["docs/"])), pull)
    assert matches(sub(filters=Filters(paths=["docs/"])), opened())  # issues touch no paths
    dependabot = opened(is_pull=True, author="dependabot[bot]", author_bot=True)
    assert not matches(sub(), dependabot)
    assert matches(sub(filters=Filters(bots=True)), dependabot)
    by_bot = comment_event(
        Comment(repo="acme/widgets", number=7, id=1, author="ci[bot]", author_bot=True, created_at=T0 + 9), item()
    )
    assert not matches(sub(kinds=[Kind.COMMENTS]), by_bot)


def test_a_label_change_brings_an_item_into_a_label_filtered_subscription_once() -> None:
    before, after = item(labels=[]), item(labels=["bug"], updated_at=T0 + 20)
    [labeled] = item_events(before, after, T0)
    assert newly_matches(sub(filters=Filters(label_groups=[["bug"]])), labeled)
    assert not newly_matches(sub(), labeled)  # it matched before: a relabel is no news there


# The subscription grammar ------------------------------------------------------------------------------


def test_kinds_options_and_filters_parse() -> None:
    words = ["issues", "prs", "reviews", "triage", "review", 'label:bug,"good first"', "label:p1", "-label:wontfix"]
    terms = parse_terms([*words, "author:alice", "-author:renovate[bot]", "path:src/api", "+bots"])
    assert terms == {
        "kinds": ["issues", "pulls", "reviews"],
        "triage": True,
        "review": True,
        "label_groups": [["bug", "good first"], ["p1"]],
        "excluded_labels": ["wontfix"],
        "authors": ["alice"],
        "excluded_authors": ["renovate[bot]"],
        "paths": ["src/api"],
        "include_bots": True,
    }


def test_an_unknown_word_is_named_with_what_a_subscription_takes() -> None:
    refusal = parse_terms(["issues", "bugz"])
    assert isinstance(refusal, FastPathError)
    assert "`bugz`" in refusal.message and "label:" in refusal.message and "triage" in refusal.message


def test_subscribe_commands_route_without_a_model() -> None:
    from synapse_bot.dispatch.fast_path import FastPath
    from synapse_bot.tools.registry import default_registry

    fast = FastPath(default_registry())
    routed = fast.route("subscribe <#C0DEV|dev> to acme/widgets issues label:bug -author:dependabot[bot]")
    assert routed.complete
    assert routed.result == [
        ToolCall(
            "subscribe_repo",
            {
                "repo": "acme/widgets",
                "channel": "C0DEV",
                "kinds": ["issues"],
                "filters": ["label:bug", "-author:dependabot[bot]"],
            },
        )
    ]
    assert fast.route("unsubscribe #dev from acme/widgets").result == [
        ToolCall("unsubscribe_repo", {"repo": "acme/widgets", "channel": "#dev"})
    ]
    assert fast.route("list subscriptions").result == [ToolCall("list_subscriptions", {})]
    assert not fast.route("subscribe #dev to acme/widgets for the new bugs please").complete  # for the model


# GitHub's JSON -----------------------------------------------------------------------------------------


def test_webhook_payloads_become_the_same_observations_as_the_rest_api() -> None:
    issue = {
        "number": 7,
        "title": "Login crashes",
        "html_url": "https://github.com/acme/widgets/issues/7",
        "user": {"login": "alice", "type": "User"},
        "state": "open",
        "labels": [{"name": "bug"}],
        "created_at": "2026-12-07T10:00:00Z",
        "updated_at": "2026-12-07T10:00:05Z",
    }
    payload = {"action": "opened", "issue": issue, "repository": {"full_name": "acme/widgets"}}
    seen = from_webhook("issues", payload)
    assert seen is not None and seen.items == [item_from_issue("acme/widgets", issue)]
    review = {
        "action": "submitted",
        "review": {"id": 9, "user": {"login": "bob"}, "state": "changes_requested", "body": "no"},
        "pull_request": {**issue, "base": {"ref": "main"}, "head": {"ref": "fix", "sha": "abc"}},
        "repository": {"full_name": "acme/widgets"},
    }
    reviewed = from_webhook("pull_request_review", review)
    assert reviewed is not None and reviewed.reviews[0].state == "CHANGES_REQUESTED"  # webhooks spell it lower case
    assert reviewed.items[0].detailed and reviewed.items[0].head_sha == "abc"
    assert from_webhook("star", payload) is None
    with pytest.raises(PayloadError):
        from_webhook(
            "issues", {"action": "opened", "issue": {"title": "no number"}, "repository": {"full_name": "a/b"}}
        )


def test_bots_and_times() -> None:
    assert is_bot("dependabot[bot]") and is_bot("some-app", "Bot") and not is_bot("alice", "User")
    assert parse_time("2026-12-07T10:00:00Z") == parse_time("2026-12-07T10:00:00+00:00")
    assert parse_time("yesterday") is None


# What is posted ----------------------------------------------------------------------------------------


def test_a_pull_request_card_says_what_a_reviewer_needs_to_know() -> None:
    pull = item(
        is_pull=True,
        detailed=True,
        base="main",
        head="fix-login",
        additions=12,
        deletions=3,
        changed_files=2,
        requested_reviewers=["bob"],
        labels=["bug"],
        title="Fix [login]",
        url="https://github.com/acme/widgets/pull/7",
    )
    text = card_text(pull)
    assert "[acme/widgets#7 Fix (login)](https://github.com/acme/widgets/pull/7)" in text
    for fact in ("opened by **alice**", "`main ← fix-login`", "+12 −3 in 2 files", "reviewers: bob", "`bug`", "open"):
        assert fact in text
    assert card_text(pull.model_copy(update={"merged": True, "state": "closed"})).startswith("🟣")


def test_thread_lines_and_digests() -> None:
    review = Review(repo="acme/widgets", number=7, id=1, reviewer="bob", state="CHANGES_REQUESTED", body="Add a test")
    line = thread_line(review_event(review, item()) or opened())
    assert line is not None and "**bob** requested changes" in line and "> Add a test" in line
    events = [opened(number=n) for n in range(1, 21)]
    digest = digest_text("acme/widgets", events, "Twenty issues were filed.")
    assert "20 more updates in acme/widgets" in digest and "Twenty issues were filed." in digest
    assert "…and 5 more." in digest


def test_webhook_signatures_are_checked_on_the_raw_body() -> None:
    body = json.dumps({"zen": "hi"}).encode()
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature_valid("s3cret", body, good)
    assert not signature_valid("other", body, good)
    assert not signature_valid("s3cret", body + b" ", good)
    assert not signature_valid("s3cret", body, None)
    assert not signature_valid("s3cret", body, good.replace("sha256=", "sha1="))
