"""The GitHub read tools' pure parts: search scoping, check and review meaning, trimming, rendering within bounds,
and fast-path grammars that take only complete commands. No I/O."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest

from synapse_bot.dispatch.fast_path import FastPath
from synapse_bot.github.queries import issue_search_query, standing_reviews
from synapse_bot.github_data import (
    CheckData,
    CommentData,
    IssueDetail,
    PullDetail,
    ReviewData,
    SearchHit,
    SearchPage,
)
from synapse_bot.render.sanitize import has_mass_mention
from synapse_bot.tools.get_issue import MAX_TEXT_CHARS as ISSUE_CHARS
from synapse_bot.tools.get_issue import issue_facts, render_issue
from synapse_bot.tools.get_pull_request import MAX_TEXT_CHARS as PULL_CHARS
from synapse_bot.tools.get_pull_request import checks_summary, pull_facts, render_pull
from synapse_bot.tools.github_text import excerpt, link_title, some
from synapse_bot.tools.grammar import ToolCall
from synapse_bot.tools.registry import default_registry
from synapse_bot.tools.search_issues import MAX_TEXT_CHARS as SEARCH_CHARS
from synapse_bot.tools.search_issues import render_search, search_facts
from tests.support.settings import subprocess_env

WHEN = datetime(2026, 1, 5, tzinfo=UTC)


def _issue(body: str = "It breaks.", comments: int = 0, comment_body: str = "ok", **extra: object) -> IssueDetail:
    values: dict[str, object] = {
        "repo": "acme/widgets",
        "number": 12,
        "title": "Login [SSO] fails",
        "state": "open",
        "state_reason": None,
        "is_pull_request": False,
        "author": "carol",
        "labels": ["bug"],
        "assignees": [],
        "body": body,
        "url": "https://github.com/acme/widgets/issues/12",
        "created_at": WHEN,
        "updated_at": WHEN,
        "comments_total": max(comments, 1000 if comments else 0),
        "comments": [
            CommentData(f"user{i}", f"comment {i} {comment_body}", WHEN, f"https://x/c{i}") for i in range(comments)
        ],
    }
    values.update(extra)
    return IssueDetail(**values)  # type: ignore[arg-type]


def _pull(checks: list[CheckData], **extra: object) -> PullDetail:
    values: dict[str, object] = {
        "repo": "acme/widgets",
        "number": 7,
        "title": "Fix login",
        "state": "open",
        "merged": False,
        "draft": False,
        "author": "alice",
        "base": "main",
        "head": "fix-login",
        "head_sha": "abcdef1234",
        "mergeable": True,
        "mergeable_state": "clean",
        "additions": 10,
        "deletions": 2,
        "changed_files": 1,
        "commits": 1,
        "labels": [],
        "body": "",
        "url": "https://github.com/acme/widgets/pull/7",
        "checks": checks,
        "checks_total": len(checks),
    }
    values.update(extra)
    return PullDetail(**values)  # type: ignore[arg-type]


def test_a_search_query_stays_in_its_repository_whatever_the_free_text_says() -> None:
    query = issue_search_query(
        "acme/widgets",
        'SSO  login repo:evil/secrets org:evil -repo:x is:pr state:closed label:"needs triage"',
        state="open",
        kind="issues",
    )
    assert query == 'repo:acme/widgets is:issue is:open SSO login label:"needs triage"'


@pytest.mark.parametrize(
    ("state", "kind", "expected"),
    [
        ("open", "issues", "repo:a/b is:issue is:open sso"),
        ("closed", "pull_requests", "repo:a/b is:pr is:closed sso"),
        ("all", "both", "repo:a/b sso"),
    ],
)
def test_state_and_kind_become_qualifiers(state: str, kind: str, expected: str) -> None:
    assert issue_search_query("a/b", "sso", state=state, kind=kind) == expected


@pytest.mark.parametrize(
    ("status", "conclusion", "outcome"),
    [
        ("completed", "success", "passed"),
        ("completed", "failure", "failed"),
        ("completed", "timed_out", "failed"),
        ("completed", "cancelled", "failed"),
        ("completed", "skipped", "skipped"),
        ("completed", "neutral", "skipped"),
        ("in_progress", None, "pending"),
        ("queued", None, "pending"),
        ("success", None, "passed"),  # commit statuses carry their state as the status
        ("error", None, "failed"),
        ("pending", None, "pending"),
    ],
)
def test_check_runs_and_commit_statuses_mean_passed_failed_pending_or_skipped(
    status: str, conclusion: str | None, outcome: str
) -> None:
    assert CheckData("ci", status, conclusion, None).outcome == outcome


def test_any_failure_fails_the_checks_and_anything_unfinished_keeps_them_pending() -> None:
    passed, failed = CheckData("a", "success", None, None), CheckData("b", "completed", "failure", None)
    pending, skipped = CheckData("c", "queued", None, None), CheckData("d", "completed", "skipped", None)
    assert checks_summary([passed, pending, failed]) == "failing"
    assert checks_summary([passed, pending]) == "pending"
    assert checks_summary([passed, skipped]) == "passing"
    assert checks_summary([skipped]) == "skipped"
    assert checks_summary([]) == "none"


def test_a_reviewers_later_comment_does_not_hide_their_approval_or_change_request() -> None:
    reviews = [
        ReviewData("dave", "CHANGES_REQUESTED"),
        ReviewData("erin", "COMMENTED"),
        ReviewData("dave", "COMMENTED"),
        ReviewData("frank", "CHANGES_REQUESTED"),
        ReviewData("frank", "APPROVED"),
    ]
    assert standing_reviews(reviews) == [
        ReviewData("dave", "CHANGES_REQUESTED"),
        ReviewData("erin", "COMMENTED"),
        ReviewData("frank", "APPROVED"),
    ]


def test_excerpt_flattens_drops_template_comments_and_cuts_at_a_word_saying_how_long_it_was() -> None:
    assert excerpt("a\n\n  b <!-- fill this in -->c", 100) == "a b c"
    cut = excerpt("word " * 100, 42)
    assert cut.startswith("word word") and cut.count("word") == 8
    assert cut.endswith("… _(trimmed; 499 characters in all)_")


def test_titles_cannot_break_their_markdown_link_and_lists_say_how_many_more() -> None:
    assert link_title("Fix [SSO]\nlogin") == "Fix (SSO) login"
    assert len(link_title("x" * 500)) == 120
    assert some(["a", "b", "c"], 2, code=True) == "`a`, `b`, +1 more"


def test_an_issue_with_a_huge_body_and_comments_renders_within_bounds_newest_comments_kept() -> None:
    issue = _issue(body="<!channel> " + "long " * 20_000, comments=20, comment_body="words " * 300)
    text = render_issue(issue)
    assert len(text) <= ISSUE_CHARS and not has_mass_mention(text)
    assert "comment 19 " in text and "comment 0 " not in text
    shown = text.count("\n• @")
    assert f"**Latest {shown} of 1000 comments**, oldest first ({1000 - shown} earlier not shown)" in text
    assert "[acme/widgets#12 Login (SSO) fails](https://github.com/acme/widgets/issues/12)" in text


def test_an_issue_says_when_it_is_a_pull_request_and_closed_as_not_planned() -> None:
    text = render_issue(_issue(is_pull_request=True, state="closed", state_reason="not_planned"))
    assert text.startswith("**Pull request [acme/widgets#12") and "(closed, not planned)" in text
    assert "get_pull_request" in text and "Latest" not in text


def test_issue_facts_carry_the_links_to_cite_not_the_text() -> None:
    facts = issue_facts(_issue(body="secret body text", comments=2))
    assert facts["url"] == "https://github.com/acme/widgets/issues/12"
    assert facts["comments"] == [{"author": "user0", "url": "https://x/c0"}, {"author": "user1", "url": "https://x/c1"}]
    assert "secret body text" not in str(facts)


def test_search_results_render_one_line_each_within_bounds_with_githubs_total() -> None:
    hits = [
        SearchHit(n, "SSO " + "t" * 300, "open", ["bug", "sso", "p1", "extra"], f"https://x/{n}", False)
        for n in range(30)
    ]
    page = SearchPage("repo:acme/widgets is:issue is:open sso", 345, False, hits)
    text = render_search("acme/widgets", "sso", "open", "issues", page)
    assert len(text) <= SEARCH_CHARS
    shown = text.count("\n• [#")
    assert text.startswith(f"**345 open issues in acme/widgets matching “sso”** — showing {shown}, best matches first")
    assert "`bug`, `sso`, `p1`, +1 more" in text
    assert [r["number"] for r in search_facts("acme/widgets", page)["results"]] == list(range(shown))


def test_an_empty_search_says_so_plainly() -> None:
    page = SearchPage("repo:a/b is:pr is:closed x", 0, False, [])
    assert render_search("a/b", "x", "closed", "pull_requests", page) == "No closed pull requests in a/b matching “x”."


def test_a_pull_request_renders_state_size_and_check_names_within_bounds() -> None:
    checks = [CheckData(f"job {i} " + "m" * 200, "completed", "failure", f"https://x/runs/{i}") for i in range(100)]
    text = render_pull(_pull(checks, checks_total=250))
    assert len(text) <= PULL_CHARS
    assert (
        "**Checks: failing** on `abcdef1` (150 more not read) — 100 failed: [job 0 mmm" in text and "+90 more" in text
    )
    assert "mergeable" in text and "+10/−2 in 1 file, 1 commit" in text


def test_a_merged_pull_request_has_no_mergeability_and_no_checks_is_said() -> None:
    text = render_pull(_pull([], merged=True, state="closed", mergeable=None))
    assert "(merged)" in text and "mergeab" not in text and "**Checks:** none reported on `abcdef1`" in text
    assert pull_facts(_pull([]))["checks"]["overall"] == "none"


@pytest.fixture(scope="module")
def fast_path() -> FastPath:
    return FastPath(default_registry())


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("show issue #12 in acme/widgets", ToolCall("get_issue", {"repo": "acme/widgets", "number": 12})),
        ("get issue 12 of acme/widgets.", ToolCall("get_issue", {"repo": "acme/widgets", "number": 12})),
        ("show acme/widgets#12", ToolCall("get_issue", {"repo": "acme/widgets", "number": 12})),
        (
            "show https://github.com/acme/widgets/issues/12",
            ToolCall("get_issue", {"repo": "acme/widgets", "number": 12}),
        ),
        ("show pr #7 in acme/widgets", ToolCall("get_pull_request", {"repo": "acme/widgets", "number": 7})),
        ("show pr acme/widgets#7", ToolCall("get_pull_request", {"repo": "acme/widgets", "number": 7})),
        (
            "show <https://github.com/acme/widgets/pull/7/checks|the PR>",
            ToolCall("get_pull_request", {"repo": "acme/widgets", "number": 7}),
        ),
        (
            "search issues in acme/widgets for SSO login",
            ToolCall("search_issues", {"repo": "acme/widgets", "query": "SSO login", "kind": "issues"}),
        ),
        (
            "find closed prs in acme/widgets about dark mode",
            ToolCall(
                "search_issues",
                {"repo": "acme/widgets", "query": "dark mode", "kind": "pull_requests", "state": "closed"},
            ),
        ),
    ],
)
def test_complete_commands_take_the_fast_path(fast_path: FastPath, text: str, call: ToolCall) -> None:
    assert fast_path.parse(text) == [call]


@pytest.mark.parametrize(
    "text",
    [
        "Are any open issues in acme/widgets about SSO login? Just the numbers",
        "show issue #12 in acme/widgets and tell me who should fix it",
        "show me open issues about SSO in acme/widgets",
        "is pr #7 in acme/widgets green?",
        "find what bob said about the migration",
        "search for the design doc",
    ],
)
def test_questions_and_commands_with_extra_clauses_go_to_the_model(fast_path: FastPath, text: str) -> None:
    assert fast_path.parse(text) is None


def test_pygithub_is_loaded_only_by_the_first_github_call() -> None:
    """A process that never reads GitHub never pays for PyGithub and its stack (~19 MB); the first call loads it."""
    script = textwrap.dedent(
        """
        import sys
        from synapse_bot.config import Settings
        import synapse_bot.runtime
        from synapse_bot.github.client import GitHubClient
        from synapse_bot.github.errors import GitHubError
        client = GitHubClient(Settings(_env_file=None, GITHUB_API_URL="http://127.0.0.1:9"))
        print("github" in sys.modules, "requests" in sys.modules)
        try:
            client.live_labels("octo/repo")
        except GitHubError as exc:
            print(exc)
        print("github" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=subprocess_env(), check=True
    )
    before, error, after = result.stdout.splitlines()
    assert before == "False False"
    assert error.startswith("I can't reach GitHub right now")
    assert after == "True"
