"""GitHub events in the channels that subscribe, over the wire: the real bot polls the GitHub stand-in (PyGithub's
requester, ETags and 304s) or receives its signed webhooks, and posts to the Slack sandbox — one card per issue or
PR, its story in the card's thread, the card edited as the item changes."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.store.keys import Keys
from synapse_bot.store.poll_schedule import PollSchedule
from synapse_sandbox.github_live import signature
from synapse_sandbox.github_server import FileChange, GitHubServer
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import free_port
from tests.support.github_feed import REPO, card_for, cards, feed_bot, github_with_repo, subscribe, thread_lines
from tests.support.waits import settled, wait_until

pytestmark = pytest.mark.e2e

SECRET = "hook-secret-for-tests"


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    with GitHubServer() as server:
        yield github_with_repo(server, private="acme/secret")


@pytest.fixture
def people(slack: SlackSandbox) -> dict[str, str]:
    alice = slack.add_user("alice", real_name="Alice Admin")
    bob = slack.add_user("bob", real_name="Bob Builder")
    return {
        "alice": alice,
        "bob": bob,
        "dev": slack.add_channel("dev", members=[alice, bob]),
        "bugs": slack.add_channel("bugs", members=[alice, bob]),
    }


def mention(slack: SlackSandbox, text: str) -> str:
    return f"<@{slack.bot_user_id}> {text}"


def issue_reads(github: GitHubServer) -> list[dict[str, Any]]:
    """The poller's reads of the repository's issue list (sorted by update, unlike the tools' reads)."""
    return [r for r in github.requests if r["path"] == f"/repos/{REPO}/issues" and r["query"].get("sort") == "updated"]


def webhook_bot(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, **extra: Any
) -> tuple[Runtime, int]:
    port = free_port()
    bot = feed_bot(
        slack,
        redis_server,
        tmp_path,
        github,
        SYNAPSE_GITHUB_WEBHOOK_PORT=port,
        SYNAPSE_GITHUB_WEBHOOK_HOST="127.0.0.1",
        SYNAPSE_GITHUB_WEBHOOK_SECRET=SECRET,
        SYNAPSE_GITHUB_POLL_SECONDS=600,  # webhooks deliver; polls are rare (the first at once, then spread)
        **extra,
    )
    github.add_hook(f"http://127.0.0.1:{port}/github/webhook", SECRET)
    return bot, port


def first_poll_done(github: GitHubServer) -> None:
    wait_until(lambda: issue_reads(github), 15, "the first poll of the new subscription")


def post(port: int, body: bytes, headers: dict[str, str], path: str = "/github/webhook") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_polling_posts_a_new_issue_and_a_pr_with_its_story_threaded_and_idle_polls_cost_nothing(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    dev = people["dev"]
    older = github.open_issue(REPO, "An issue from before the subscription", user="carol")
    bot = feed_bot(slack, redis_server, tmp_path, github)
    try:
        confirmed = subscribe(
            slack, people["alice"], dev, mention(slack, f"subscribe to {REPO} issues pulls reviews comments checks")
        )
        assert "Subscribed" in confirmed and REPO in confirmed and "issues pulls reviews comments checks" in confirmed
        first_poll_done(github)
        number = github.open_issue(REPO, "Login crashes on SSO", "Steps: log in.", user="bob", labels=["bug"])
        card = wait_until(lambda: card_for(slack, dev, number), 20, "the new issue's card")
        assert "opened by **bob**" in card["text"] and "`bug`" in card["text"]
        with urllib.request.urlopen(f"{github.base_url}/repos/{REPO}/events") as feed:
            assert json.loads(feed.read()) == []  # GitHub's events feed would not have shown it yet
        github.comment(REPO, number, "I can reproduce it on 2.1", user="carol")
        wait_until(lambda: thread_lines(slack, dev, card["ts"]), 20, "the comment in the card's thread")

        pull = github.open_pull(
            REPO,
            "Fix the SSO crash",
            user="dave",
            requested_reviewers=["erin"],
            files=[FileChange("app/login.py", "@@ -1 +1,2 @@\n a\n+b", additions=1)],
        )
        pr_card = wait_until(lambda: card_for(slack, dev, pull), 20, "the PR's card")
        assert f"`main ← feature-{pull}`" in pr_card["text"]
        assert "reviewers: erin" in pr_card["text"] and "+1 −0 in 1 file" in pr_card["text"]
        github.submit_review(REPO, pull, "erin", "CHANGES_REQUESTED", "Please add a test")
        github.finish_check(REPO, pull, "unit-tests", "failure", title="2 failed", summary="test_login failed")
        wait_until(lambda: len(thread_lines(slack, dev, pr_card["ts"])) >= 2, 20, "the review and the check")
        github.merge(REPO, pull)
        wait_until(lambda: len(thread_lines(slack, dev, pr_card["ts"])) >= 3, 20, "the merge in the PR's thread")
        wait_until(lambda: (card_for(slack, dev, pull) or {}).get("text", "").startswith("🟣"), 10, "the card edited")
        settled(slack, bot)

        lines = thread_lines(slack, dev, pr_card["ts"])
        assert len(lines) == 3
        assert "**erin** requested changes" in lines[0] and "Please add a test" in lines[0]
        assert "Check **unit-tests** failed" in lines[1] and "test_login failed" in lines[1]
        assert lines[2].startswith("🟣 Merged")
        assert (
            thread_lines(slack, dev, card["ts"]) == [thread_lines(slack, dev, card["ts"])[0]]
            and "I can reproduce it on 2.1" in thread_lines(slack, dev, card["ts"])[0]
        )
        assert card_for(slack, dev, older) is None  # what happened before the subscription is not news
        assert len(cards(slack, dev)) == 2  # one card per item, however many events

        # Idle: later polls are conditional and answer 304, spending no rate limit.
        seen, used = len(issue_reads(github)), github.rate_used
        wait_until(lambda: len(issue_reads(github)) >= seen + 2, 20, "two more polls")
        idle = issue_reads(github)[seen:]
        assert all(r["conditional"] for r in idle), [
            (r["query"].get("since"), r["conditional"]) for r in issue_reads(github)
        ][-6:]
        assert github.rate_used == used
    finally:
        bot.stop()


def test_signed_webhooks_post_at_once_the_poll_adds_nothing_and_replays_and_forgeries_are_refused(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    dev = people["dev"]
    bot, port = webhook_bot(slack, redis_server, tmp_path, github)
    try:
        assert github.delivered("ping")[0].done.wait(10) and github.delivered("ping")[0].status == 200
        subscribe(slack, people["alice"], dev, mention(slack, f"subscribe to {REPO}"))
        first_poll_done(github)
        polls = len(issue_reads(github))
        number = github.open_issue(REPO, "Dark mode", user="bob")
        card = wait_until(lambda: card_for(slack, dev, number), 10, "the card, from the webhook")
        assert len(issue_reads(github)) == polls  # no poll came in between: the webhook brought it
        [opened] = [d for d in github.delivered("issues") if d.done.wait(10)]
        assert opened.status == 202 and json.loads(opened.answer)["queued"] is True

        # The same event seen by the poll (a new subscription asks for one at once) is not posted again.
        reads = len(issue_reads(github))
        subscribe(slack, people["alice"], dev, mention(slack, f"subscribe to {REPO} issues pulls"))
        wait_until(lambda: len(issue_reads(github)) > reads, 15, "the poll")
        settled(slack, bot)
        # A redelivery (same X-GitHub-Delivery) is recognised.
        replay = github.redeliver(opened)
        assert replay.done.wait(10) and replay.status == 200 and json.loads(replay.answer)["duplicate"]
        settled(slack, bot)
        assert [m["ts"] for m in cards(slack, dev)] == [card["ts"]]
        assert thread_lines(slack, dev, card["ts"]) == []

        body = json.dumps({"action": "opened", "repository": {"full_name": REPO}}).encode()
        headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "forged-1", "Content-Type": "application/json"}
        assert post(port, body, {**headers, "X-Hub-Signature-256": signature("wrong", body)})[0] == 401
        assert post(port, body, headers)[0] == 401
        signed = {**headers, "X-Hub-Signature-256": signature(SECRET, body)}
        status, answer = post(port, body, {k: v for k, v in signed.items() if k != "X-GitHub-Event"})
        assert status == 400 and "X-GitHub-Event" in answer["error"]
        status, answer = post(port, b"not json", {**headers, "X-Hub-Signature-256": signature(SECRET, b"not json")})
        assert status == 400
        assert post(port, body, signed, path="/elsewhere")[0] == 404
        oversized = urllib.request.Request(
            f"http://127.0.0.1:{port}/github/webhook",
            data=b"x" * 1024,
            method="POST",
            headers={**signed, "Content-Length": str(26 * 1024 * 1024)},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(oversized, timeout=10)
        assert refused.value.code == 413
        settled(slack, bot)
        assert len(cards(slack, dev)) == 1  # nothing forged was posted
    finally:
        bot.stop()


def test_each_filter_decides_which_channel_gets_which_card(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    alice = people["alice"]
    channels = {name: slack.add_channel(name, members=[alice]) for name in ("by-alice", "api", "everything")}
    bot, _ = webhook_bot(slack, redis_server, tmp_path, github, SYNAPSE_GITHUB_BURST_POSTS=20)
    try:
        for channel, terms in (
            (people["bugs"], "issues label:bug,crash -label:wontfix"),
            (people["dev"], "issues label:bug label:p1"),
            (channels["by-alice"], "issues pulls author:alice -author:mallory"),
            (channels["api"], "pulls path:src/api"),
            (channels["everything"], "issues pulls +bots"),  # (the burst allowance is raised below: 7 cards)
        ):
            assert "Subscribed" in subscribe(slack, alice, channel, mention(slack, f"subscribe to {REPO} {terms}"))
        first_poll_done(github)
        crash = github.open_issue(REPO, "Crash on start", user="alice", labels=["crash"])
        wontfix = github.open_issue(REPO, "Crash we accept", user="bob", labels=["bug", "wontfix"])
        urgent = github.open_issue(REPO, "Data loss", user="bob", labels=["bug", "p1"])
        api = github.open_pull(
            REPO, "API change", user="bob", files=[FileChange("src/api/users.py", "@@ -1 +1 @@\n+x")]
        )
        docs = github.open_pull(REPO, "Docs", user="alice", files=[FileChange("docs/index.md", "@@ -1 +1 @@\n+y")])
        bump = github.open_pull(REPO, "Bump requests", user="dependabot[bot]")
        later = github.open_issue(REPO, "Triaged later", user="carol")
        wait_until(lambda: card_for(slack, channels["everything"], later), 15, "the last card")
        github.set_labels(REPO, later, ["bug"])  # now it matches #bugs' filter: its card appears there
        wait_until(lambda: card_for(slack, people["bugs"], later), 15, "the relabelled issue's card")
        settled(slack, bot)

        def numbers(channel: str) -> set[int]:
            found = set()
            for n in (crash, wontfix, urgent, api, docs, bump, later):
                if card_for(slack, channel, n):
                    found.add(n)
            return found

        assert numbers(people["bugs"]) == {crash, urgent, later}  # any of bug/crash, none of wontfix
        assert numbers(people["dev"]) == {urgent}  # bug and p1
        assert numbers(channels["by-alice"]) == {crash, docs}
        assert numbers(channels["api"]) == {api}  # PRs touching src/api
        assert numbers(channels["everything"]) == {crash, wontfix, urgent, api, docs, bump, later}  # bots too
    finally:
        bot.stop()


def test_triage_and_review_run_on_arrival_once_and_not_on_every_push(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    dev = people["dev"]
    bot, _ = webhook_bot(slack, redis_server, tmp_path, github, SYNAPSE_GITHUB_WRITERS=people["alice"])
    try:
        subscribe(slack, people["alice"], dev, mention(slack, f"subscribe to {REPO} issues pulls triage review"))
        first_poll_done(github)
        number = github.open_issue(REPO, "App crashes on login", "Crash with SSO, stack trace attached", user="bob")
        card = wait_until(lambda: card_for(slack, dev, number), 10, "the issue's card")
        triage = wait_until(
            lambda: [m for m in slack.bot_messages(dev, thread_ts=card["ts"]) if "Triage of" in m["text"]], 20, "triage"
        )[0]
        assert f"Triage of {REPO}#{number}" in triage["text"]
        assert "Apply suggested labels" in json.dumps(triage.get("blocks"))

        draft = github.open_pull(
            REPO, "WIP: fix", user="bob", draft=True, files=[FileChange("app/login.py", "@@ -1 +1,2 @@\n a\n+b")]
        )
        draft_card = wait_until(lambda: card_for(slack, dev, draft), 10, "the draft's card")
        settled(slack, bot)
        assert not [
            m
            for m in slack.bot_messages(dev, thread_ts=draft_card["ts"])
            if "Post as GitHub review" in json.dumps(m.get("blocks"))
        ]
        github.mark_ready(REPO, draft)

        def reviews() -> list[dict[str, Any]]:
            return [
                m
                for m in slack.bot_messages(dev, thread_ts=draft_card["ts"])
                if "Post as GitHub review" in json.dumps(m.get("blocks"))
            ]

        wait_until(reviews, 20, "the review once the PR is ready")
        github.push(REPO, draft)
        github.comment(REPO, draft, "pushed a fix", user="bob")
        settled(slack, bot)
        assert len(reviews()) == 1  # a push does not review again
        assert github.writes == []  # nothing is written to GitHub without a click
    finally:
        bot.stop()


def test_a_private_repository_is_refused_to_people_who_are_not_admins(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    dev = people["dev"]
    bot = feed_bot(slack, redis_server, tmp_path, github, SYNAPSE_ADMINS=people["alice"])
    try:
        refused = subscribe(slack, people["bob"], dev, mention(slack, "subscribe to acme/secret"))
        assert "private repository" in refused and "admin" in refused
        listed = subscribe(slack, people["bob"], dev, mention(slack, "list subscriptions"))
        assert "No GitHub subscriptions" in listed
        assert "Subscribed" in subscribe(slack, people["alice"], dev, mention(slack, "subscribe to acme/secret"))
        refused_stop = subscribe(slack, people["bob"], dev, mention(slack, "unsubscribe from acme/secret"))
        assert "Only a Synapse admin" in refused_stop
        everything = subscribe(slack, people["alice"], people["bugs"], mention(slack, "list subscriptions"))
        assert "acme/secret" in everything and f"<#{dev}>" in everything  # admins see every channel's
        stopped = subscribe(slack, people["alice"], dev, mention(slack, "unsubscribe from acme/secret"))
        assert "Unsubscribed" in stopped
        assert "No GitHub subscriptions" in subscribe(slack, people["bob"], dev, mention(slack, "list subscriptions"))
        missing = subscribe(slack, people["bob"], dev, mention(slack, "subscribe to acme/nothing-here"))
        assert "can't see acme/nothing-here" in missing
    finally:
        bot.stop()


def test_a_repository_that_disappears_is_reported_once_and_paused_then_resumed(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    dev = people["dev"]
    bot = feed_bot(slack, redis_server, tmp_path, github)
    try:
        subscribe(slack, people["alice"], dev, mention(slack, f"subscribe to {REPO}"))
        first_poll_done(github)
        github.delete_repo(REPO)
        warning = wait_until(
            lambda: [m for m in slack.bot_messages(dev) if "can no longer read" in m["text"]], 20, "the report"
        )[0]
        assert "paused" in warning["text"] and f"unsubscribe <#{dev}> from {REPO}" in warning["text"]
        schedule = PollSchedule(bot.redis, Keys(bot.settings.key_prefix))  # type: ignore[arg-type]
        wait_until(lambda: (schedule.next_due() or 0) > time.time() + 14 * 60, 10, "the pause")  # not every minute
        # Fifteen minutes later the poller looks again; it is back, and says so once.
        github.restore_repo(REPO)
        number = github.open_issue(REPO, "Filed while it was gone", user="bob")
        assert bot.poller is not None
        from synapse_bot.github.conditional import ConditionalReader

        reader = ConditionalReader(bot.settings)
        bot.poller.poll(reader, REPO, "probe")
        reader.close()
        wait_until(lambda: card_for(slack, dev, number), 15, "the catch-up after the pause")
        settled(slack, bot)
        notes = [
            m["text"] for m in slack.bot_messages(dev) if "can no longer read" in m["text"] or "again" in m["text"]
        ]
        assert len(notes) == 2 and "can read **acme/widgets** on GitHub again" in notes[1]
    finally:
        bot.stop()


def test_events_while_synapse_was_down_are_posted_once_when_it_is_back(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    dev = people["dev"]
    bot = feed_bot(slack, redis_server, tmp_path, github)
    subscribe(slack, people["alice"], dev, mention(slack, f"subscribe to {REPO} issues comments"))
    first_poll_done(github)
    before = github.open_issue(REPO, "Before the restart", user="bob")
    card = wait_until(lambda: card_for(slack, dev, before), 20, "the first card")
    settled(slack, bot)
    bot.stop()
    missed = [github.open_issue(REPO, f"While down {n}", user="bob") for n in range(3)]
    github.comment(REPO, before, "still broken", user="carol")
    again = Runtime(bot.settings).start()
    try:
        wait_until(lambda: all(card_for(slack, dev, n) for n in missed), 20, "the missed cards")
        wait_until(lambda: thread_lines(slack, dev, card["ts"]), 20, "the missed comment")
        settled(slack, again)
        assert len(cards(slack, dev)) == 4  # the first card is not posted again
        assert len(thread_lines(slack, dev, card["ts"])) == 1
    finally:
        again.stop()


def test_a_burst_becomes_one_digest_summed_up_by_the_model(
    slack: SlackSandbox,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    github: GitHubServer,
    people: dict[str, str],
    model: OpenAIServer,
) -> None:
    dev = people["dev"]
    model.set_responder(lambda body: Reply.text("Eight releases of the 1.x line went out."))
    bot, _ = webhook_bot(
        slack,
        redis_server,
        tmp_path,
        github,
        SYNAPSE_GITHUB_BURST_POSTS=3,
        SYNAPSE_GITHUB_DIGEST_SECONDS=5,
        OPENAI_API_KEY=model.api_key,
        OPENAI_BASE_URL=model.base_url,
    )
    try:
        subscribe(slack, people["alice"], dev, mention(slack, f"subscribe to {REPO} releases"))
        first_poll_done(github)
        for n in range(8):
            github.publish_release(REPO, f"v1.{n}.0")
        digest = wait_until(
            lambda: [m for m in slack.bot_messages(dev) if "5 more updates" in m["text"]], 30, "the digest"
        )[0]
        settled(slack, bot)
        releases = [m["text"] for m in slack.bot_messages(dev) if m["text"].startswith("🚀")]
        assert len(releases) == 3
        # Webhooks are handled side by side, so which three come first may vary; each release is posted once.
        for n in range(8):
            assert sum(f"v1.{n}.0]" in text for text in [*releases, digest["text"]]) == 1, n
        assert len(slack.bot_messages(dev)) == 3 + 1  # three releases, one digest (the confirmation is in a thread)
        assert "Eight releases of the 1.x line went out." in digest["text"]  # the model's overview
        [overview] = model.requests
        assert "untrusted data" in overview["messages"][0]["content"] and "v1.7.0" in overview["messages"][1]["content"]
    finally:
        bot.stop()


def test_a_secondary_rate_limit_holds_every_poller_for_as_long_as_github_asks(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    bot = feed_bot(slack, redis_server, tmp_path, github)
    try:
        subscribe(slack, people["alice"], people["dev"], mention(slack, f"subscribe to {REPO}"))
        first_poll_done(github)
        github.secondary_limits.append(8)  # the next request is refused: "Retry-After: 8" (the interval is 5 s)
        wait_until(lambda: len(issue_reads(github)) >= 3, 30, "the refused poll and the next")
        refused, following = issue_reads(github)[1:3]
        assert following["at"] - refused["at"] >= 8
    finally:
        bot.stop()


def test_in_free_text_the_model_subscribes_a_channel_through_the_tool(
    slack: SlackSandbox,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    github: GitHubServer,
    people: dict[str, str],
    model: OpenAIServer,
) -> None:
    """ "tell #bugs about new bugs in widgets, not from bots": the model calls subscribe_repo; the tool checks the
    repository and stores what it understood, and the person reads the confirmation in the model's words."""
    bugs = people["bugs"]
    arguments = {"repo": REPO, "channel": "#bugs", "kinds": ["issues"], "filters": ["label:bug"]}
    model.script(
        Reply.calls(("subscribe_repo", arguments)),
        Reply.text("Done: #bugs will get new bug issues from acme/widgets (bots stay muted)."),
    )
    bot = feed_bot(
        slack,
        redis_server,
        tmp_path,
        github,
        OPENAI_API_KEY=model.api_key,
        OPENAI_BASE_URL=model.base_url,
        SYNAPSE_DEFAULT_REPOS=REPO,
        SYNAPSE_STREAMING=False,
    )
    try:
        asked = mention(slack, "tell #bugs about new bugs in widgets, not from bots")
        answer = subscribe(slack, people["alice"], people["dev"], asked)
        assert "#bugs will get new bug issues" in answer
        tool_result = next(m for m in model.requests[1]["messages"] if m.get("role") == "tool")
        assert f"Subscribed <#{bugs}> to **{REPO}**: issues label:bug" in tool_result["content"]
        first_poll_done(github)
        github.open_issue(REPO, "A feature", user="bob", labels=["enhancement"])
        bug = github.open_issue(REPO, "A bug", user="bob", labels=["bug"])
        github.open_issue(REPO, "A bot's bug", user="renovate[bot]", labels=["bug"])
        wait_until(lambda: card_for(slack, bugs, bug), 20, "the bug's card")
        settled(slack, bot)
        assert len(cards(slack, bugs)) == 1
    finally:
        bot.stop()
