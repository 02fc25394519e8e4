"""get_issue, search_issues and get_pull_request end to end: the real bot over Socket Mode, real PyGithub against
the GitHub stand-in, by fast-path command and by the scripted model's tool call.

The model stand-in calls the tool, and if the tool's result comes back to it (the model↔tool loop) it answers with
that result verbatim, so these tests hold whether the person sees the tool's text directly or through the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.render.sanitize import has_mass_mention
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.tools.get_issue import MAX_TEXT_CHARS as ISSUE_CHARS
from synapse_bot.tools.get_pull_request import MAX_TEXT_CHARS as PULL_CHARS
from synapse_bot.tools.search_issues import MAX_TEXT_CHARS as SEARCH_CHARS
from synapse_sandbox.github_server import GitHubServer
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_settings

pytestmark = pytest.mark.e2e

REPO = "acme/widgets"


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    with GitHubServer() as server:
        server.add_repo(REPO, labels=["bug", "question", "sso"])
        server.add_issue(REPO, "How do I configure SSO?", "Is it possible to use Okta?", labels=["question"])  # 1
        server.add_issue(REPO, "App crashes on login with SSO", "Steps: log in with SSO. Crash.", labels=["bug"])  # 2
        server.add_issue(REPO, "SSO login broken after upgrade", "fixed in 2.2", state="closed")  # 3
        server.add_issue(REPO, "Add dark mode", "Would be nice.")  # 4
        server.add_pull(REPO, "Fix SSO login crash", "Fixes #2")  # 5
        yield server


def _bot(
    slack: SlackSandbox,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    github: GitHubServer,
    model: OpenAIServer | None = None,
    **extra: Any,
) -> Runtime:
    values: dict[str, Any] = {
        "GITHUB_TOKEN": github.token,
        "GITHUB_API_URL": github.base_url,
        "SYNAPSE_GITHUB_MAX_WAIT_SECONDS": 1,
        **extra,
    }
    if model is not None:
        values.update(OPENAI_API_KEY=model.api_key, OPENAI_BASE_URL=model.base_url)
    runtime = Runtime(make_settings(slack, redis_server, tmp_path, **values)).start()
    assert slack.wait_connected(1)
    return runtime


def _ask(slack: SlackSandbox, workspace: dict[str, str], text: str, timeout: float = 20) -> str:
    ts = slack.mention(workspace["bob"], workspace["general"], text)
    return str(slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=timeout)["text"])


def call_then_echo(name: str, args: dict[str, Any]) -> Callable[[dict[str, Any]], Reply]:
    """A model that calls one tool, then answers with the tool's result as it received it."""

    def respond(body: dict[str, Any]) -> Reply:
        results = [m for m in body["messages"] if m.get("role") == "tool"]
        return Reply.text(str(results[-1]["content"])) if results else Reply.calls((name, args))

    return respond


def _paths(github: GitHubServer, suffix: str) -> list[dict[str, Any]]:
    return [r for r in github.requests if r["path"].endswith(suffix)]


def test_show_issue_gives_the_latest_comments_trimmed_and_the_link_however_long_the_issue(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    long_body = "Login fails. <!channel> " + "stack frame " * 5_000
    number = github.add_issue(REPO, "Login loops forever", long_body, labels=["bug", "sso"], user="carol")
    for i in range(1_000):
        github.add_comment(REPO, number, f"comment {i} " + "details " * 400, user=f"user{i % 7}")
    runtime = _bot(slack, redis_server, tmp_path, github)
    try:
        text = _ask(slack, workspace, f"show issue #{number} in {REPO}")
    finally:
        runtime.stop()
    assert f"https://github.com/{REPO}/issues/{number}" in text and "Login loops forever" in text
    assert "@carol" in text and "`bug`" in text and "`sso`" in text
    assert "of 1000 comments" in text and "comment 999 " in text and "comment 990 " not in text
    assert f"(trimmed; {len(' '.join(long_body.split())):,} characters in all)" in text  # the body, cut, saying so
    assert len(text) <= ISSUE_CHARS + 100 and not has_mass_mention(text)
    assert len(_paths(github, f"/issues/{number}/comments")) <= 2  # the last pages only, not all ten
    assert github.writes == []


def test_the_model_searches_one_repository_and_gets_numbers_titles_and_links_of_open_issues_only(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    with OpenAIServer() as model:
        model.set_responder(call_then_echo("search_issues", {"repo": REPO, "query": "SSO login repo:evil/secrets"}))
        runtime = _bot(slack, redis_server, tmp_path, github, model)
        try:
            text = _ask(slack, workspace, f"Are any open issues in {REPO} about SSO login? Just the numbers")
        finally:
            runtime.stop()
        offered = {tool["function"]["name"] for tool in model.requests[0]["tools"]}
    assert {"get_issue", "search_issues", "get_pull_request"} <= offered
    [search] = _paths(github, "/search/issues")
    assert search["query"]["q"] == f"repo:{REPO} is:issue is:open SSO login"  # scoped; the smuggled repo dropped
    assert f"https://github.com/{REPO}/issues/2" in text and "#2 App crashes on login with SSO" in text
    assert "#3 " not in text and "#5 " not in text  # closed, and a pull request
    assert github.writes == []


def test_a_search_with_many_matches_reads_one_page_and_reports_githubs_total(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    for i in range(150):
        github.add_issue(REPO, f"Flaky test number {i} " + "x" * 200, "flaky on CI", labels=["bug"])
    runtime = _bot(slack, redis_server, tmp_path, github)
    try:
        text = _ask(slack, workspace, f"search issues in {REPO} for flaky")
    finally:
        runtime.stop()
    assert text.startswith(f"**150 open issues in {REPO} matching “flaky”** — showing 10, best matches first")
    assert text.count("\n• [#") == 10 and len(text) <= SEARCH_CHARS
    assert len(_paths(github, "/search/issues")) == 1


def test_the_model_reads_a_pull_requests_state_reviews_and_failing_checks_by_name(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    number = github.add_pull(REPO, "Add SAML support", "Adds SAML.", draft=True, requested_reviewers=["carol"])
    github.add_review(REPO, number, "dave", "CHANGES_REQUESTED")
    github.add_review(REPO, number, "dave", "COMMENTED")  # a later comment does not lift the change request
    github.add_review(REPO, number, "alice", "APPROVED")
    github.add_check_run(REPO, number, "unit tests", conclusion="failure")
    github.add_check_run(REPO, number, "lint", status="in_progress")
    github.add_check_run(REPO, number, "build")
    github.add_status(REPO, number, "ci/jenkins", "success")
    with OpenAIServer() as model:
        model.set_responder(call_then_echo("get_pull_request", {"repo": REPO, "number": number}))
        runtime = _bot(slack, redis_server, tmp_path, github, model)
        try:
            text = _ask(slack, workspace, f"is the SAML PR ({REPO} #{number}) ready to merge?")
        finally:
            runtime.stop()
    assert f"https://github.com/{REPO}/pull/{number}" in text and "(open, draft)" in text
    assert "changes requested by @dave" in text and "approved by @alice" in text and "waiting on @carol" in text
    assert "**Checks: failing**" in text
    assert f"1 failed: [unit tests](https://github.com/{REPO}/runs/" in text
    assert "1 pending: lint" in text and "2 passed: build, ci/jenkins" in text
    assert github.writes == []


def test_a_pull_request_with_hundreds_of_checks_stays_one_message_and_says_what_it_did_not_read(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    number = github.add_pull(REPO, "Monorepo bump", "x" * 10_000)
    for i in range(250):
        github.add_check_run(
            REPO, number, f"job-{i:03d} " + "matrix " * 30, conclusion="failure" if i % 5 else "success"
        )
    runtime = _bot(slack, redis_server, tmp_path, github)
    try:
        text = _ask(slack, workspace, f"show pr #{number} in {REPO}")
    finally:
        runtime.stop()
    assert "**Checks: failing**" in text and "(150 more not read)" in text and "+70 more" in text
    assert len(text) <= PULL_CHARS
    assert len(_paths(github, "/check-runs")) == 1


def test_a_token_that_cannot_read_check_runs_still_gets_the_pull_request_and_is_told_why(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    github.add_check_run(REPO, 5, "unit tests", conclusion="failure")
    github.add_status(REPO, 5, "ci/jenkins", "success")
    github.deny("/check-runs")
    runtime = _bot(slack, redis_server, tmp_path, github)
    try:
        text = _ask(slack, workspace, f"show pr #5 in {REPO}")
    finally:
        runtime.stop()
    assert "Fix SSO login crash" in text
    assert "**Checks: passing**" in text and "I can't read its check runs: the token lacks permission" in text
    assert "1 passed: ci/jenkins" in text and "unit tests" not in text


@pytest.mark.parametrize(
    ("setup", "command", "expected"),
    [
        (lambda gh: None, "show issue #1 in acme/nothing-here", "I can't see acme/nothing-here"),
        (lambda gh: None, f"show issue #99 in {REPO}", f"{REPO} has no issue or pull request #99"),
        (lambda gh: gh.tokens.clear(), f"show issue #1 in {REPO}", "GitHub rejected the token"),
        (lambda gh: gh.delete_issue(REPO, 4), f"show issue #4 in {REPO}", f"{REPO}#4 was deleted"),
        (lambda gh: None, "search issues in acme/nothing-here for sso", "I can't see acme/nothing-here"),
        (lambda gh: gh.exhaust_rate_limit(600), f"search issues in {REPO} for sso", "rate limit is used up"),
        (lambda gh: gh.fail_next(422), f"search issues in {REPO} for sso", "GitHub could not run that search"),
        (lambda gh: gh.fail_next(403), f"show pr #5 in {REPO}", f"GitHub refused access to {REPO} (403)"),
        (lambda gh: None, f"show pr #1 in {REPO}", f"{REPO} has no pull request #1"),
        (lambda gh: gh.fail_next(502, times=10), f"show pr #5 in {REPO}", "it may be down"),
    ],
)
def test_github_failures_read_as_sentences(
    slack: SlackSandbox,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    workspace: dict[str, str],
    github: GitHubServer,
    setup: Callable[[GitHubServer], None],
    command: str,
    expected: str,
) -> None:
    runtime = _bot(slack, redis_server, tmp_path, github)
    try:
        setup(github)
        text = _ask(slack, workspace, command, timeout=30)
    finally:
        runtime.stop()
    assert expected in text


def test_a_passing_github_hiccup_is_retried_and_the_answer_still_comes(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    runtime = _bot(slack, redis_server, tmp_path, github)
    try:
        github.fail_next(502, times=2)
        text = _ask(slack, workspace, f"show issue #2 in {REPO}", timeout=30)
    finally:
        runtime.stop()
    assert "App crashes on login with SSO" in text
    assert sum(1 for r in github.requests if r["path"] == f"/repos/{REPO}") == 3  # two 502s, then the answer


def test_a_github_that_does_not_answer_times_out_within_the_configured_seconds(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], github: GitHubServer
) -> None:
    runtime = _bot(slack, redis_server, tmp_path, github, SYNAPSE_GITHUB_TIMEOUT_SECONDS=1)
    try:
        github.stall_next(30, times=4)  # the first try and three retries, each given up after 1 s
        started = time.monotonic()
        text = _ask(slack, workspace, f"show issue #2 in {REPO}", timeout=30)
        elapsed = time.monotonic() - started
    finally:
        runtime.stop()
    assert "I can't reach GitHub right now" in text
    assert elapsed < 15  # a few 1-second attempts, not 30 seconds per request


def test_issues_and_prs_linked_in_a_thread_reach_the_model_with_their_state_read_once(
    slack: SlackSandbox,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    github: GitHubServer,
    model: OpenAIServer,
    workspace: dict[str, str],
) -> None:
    github.add_pull(REPO, "Refresh tokens before use", "Fixes #2", merged=True)  # 6
    github.add_repo("acme/secret", private=True)
    secret = github.add_issue("acme/secret", "Internal outage notes")
    bot = _bot(slack, redis_server, tmp_path, github, model)
    try:
        channel = workspace["general"]
        root = slack.post_message(
            workspace["alice"], channel, "Login crashes again: <https://github.com/acme/widgets/issues/2|#2>"
        )
        slack.post_message(
            workspace["bob"],
            channel,
            "Fix is in https://github.com/acme/widgets/pull/6 — see also "
            f"https://github.com/acme/secret/issues/{secret}",
            thread_ts=root,
        )
        model.script(Reply.text("Yes: acme/widgets#6 is merged."), Reply.text("Still merged."))
        for question in ("is the fix for this merged?", "and now?"):
            ts = slack.mention(workspace["alice"], channel, question, thread_ts=root)
            slack.wait_for_bot_message(channel, thread_ts=root, timeout=20, count=1 if question.startswith("is") else 2)
            assert ts
        first, second = model.wait_for_requests(2)
        prompt = first["messages"][-1]["content"]
        assert "<linked_on_github>" in prompt
        assert "acme/widgets#2 (issue, open; labels: bug): App crashes on login with SSO" in prompt
        assert "acme/widgets#6 (PR, merged): Refresh tokens before use" in prompt
        assert f"acme/secret#{secret}: not read (a private repository)" in prompt
        assert "Internal outage notes" not in prompt
        reads = [r for r in github.requests if r["path"] == f"/repos/{REPO}/issues/6"]
        assert len(reads) == 1  # the second question used what was read for the first
        assert "acme/widgets#6 (PR, merged)" in second["messages"][-1]["content"]
    finally:
        bot.stop()


def test_a_slow_github_does_not_hold_up_an_answer_in_a_thread_with_links(
    slack: SlackSandbox,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    github: GitHubServer,
    model: OpenAIServer,
    workspace: dict[str, str],
) -> None:
    bot = _bot(slack, redis_server, tmp_path, github, model)
    try:
        channel = workspace["general"]
        root = slack.post_message(workspace["alice"], channel, "Crash again: https://github.com/acme/widgets/issues/2")
        github.stall_next(20)  # GitHub takes 20 s to answer the link's first read
        model.script(Reply.text("Looking at the thread: the crash is tracked in #2."))
        asked = time.monotonic()
        slack.mention(workspace["bob"], channel, "what is this about?", thread_ts=root)
        slack.wait_for_bot_message(channel, thread_ts=root, timeout=15)
        assert time.monotonic() - asked < 15  # answered without waiting for GitHub
        [request] = model.wait_for_requests(1)
        assert "acme/widgets#2: not read (GitHub did not answer in time)" in request["messages"][-1]["content"]
    finally:
        bot.stop()
