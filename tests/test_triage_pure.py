"""Offline triage (pure): duplicate candidates by subject, and priorities explained in whole sentences."""

from __future__ import annotations

import re

import pytest

from synapse_bot.github_data import IssueData, IssuePage
from synapse_bot.triage.heuristics import heuristic_triage
from synapse_bot.triage.render import render_triage
from synapse_bot.triage.similarity import (
    MAX_CANDIDATES,
    THRESHOLD,
    SubjectTerms,
    duplicate_candidates,
    similarity,
)

LABELS = ["bug", "enhancement", "documentation", "question"]


def _issue(number: int, title: str, body: str = "") -> IssueData:
    return IssueData(number, title, body, [], f"https://github.com/acme/widgets/issues/{number}", "octocat", 0)


# The demo's repository (synapse_bot/demo.py).
DEMO = [
    _issue(1, "App crashes on login with SSO", "Since v2.3 the app crashes right after login."),
    _issue(2, "Crash when logging in via SSO", "login with sso crashes the app"),
    _issue(3, "Add a dark mode", "Would be nice to support a dark theme."),
    _issue(4, "Typo in the README install section", "The docs say pip instal."),
]

DUPLICATES = [
    (("App crashes on login with SSO", "Steps: log in with SSO. Crash. v2.1"), DEMO[1]),
    (("Support dark theme", "Please add a dark mode option, my eyes hurt at night."), DEMO[2]),
    (("Docs: typo in installation guide", "The README says 'pip instal' instead of 'pip install'."), DEMO[3]),
    (
        ("Memory leak in the worker", "Worker RSS grows to 4GB after a day."),
        _issue(9, "Worker process leaks memory over time", "The worker's memory keeps growing until it is OOM-killed."),
    ),
    (
        ("Timeout when uploading large files", "Uploads over 100MB time out after 30s."),
        _issue(9, "Large file uploads time out", "Uploading a 200 MB file fails with a timeout."),
    ),
]

# Pairs that share words but not a subject: the kind of issue ("crashes", "add support", "error when") or a topic.
UNRELATED = [
    (DEMO[0], _issue(9, "App crashes on startup", "The app crashes right after launch on Android 14.")),
    (
        _issue(8, "App crashes on startup", "The app crashes right after launch on Android 14."),
        _issue(9, "App crashes when exporting CSV", "Exporting a CSV crashes the app."),
    ),
    (
        _issue(8, "Add support for Postgres", "We would like to use Postgres as the database."),
        _issue(9, "Add support for MySQL", "Please support MySQL as a database."),
    ),
    (
        _issue(8, "Error when saving settings", "Saving the settings page shows an error."),
        _issue(9, "Error when deleting a user", "Deleting a user shows an error toast."),
    ),
    (
        _issue(8, "How do I configure SSO?", "Is it possible to use Okta?"),
        _issue(9, "Add SSO support for Okta", "We would like to sign in with Okta."),
    ),
    (DEMO[2], _issue(9, "Dark mode colours are wrong in settings", "In dark mode the settings page has white text.")),
    (DEMO[0], _issue(9, "Login page is slow", "The login page takes 10 seconds to load.")),
]


def test_the_demos_duplicates_are_found_and_nothing_else() -> None:
    assert duplicate_candidates(DEMO) == {1: [2], 2: [1], 3: [], 4: []}


@pytest.mark.parametrize(("first", "second"), DUPLICATES)
def test_the_same_problem_in_other_words_is_a_candidate(first: tuple[str, str], second: IssueData) -> None:
    assert duplicate_candidates([_issue(100, *first), second])[100] == [second.number]


@pytest.mark.parametrize(("first", "second"), UNRELATED)
def test_issues_sharing_only_their_kind_or_topic_are_not_candidates(first: IssueData, second: IssueData) -> None:
    terms = SubjectTerms()
    assert similarity(terms.bag(first), terms.bag(second)) < THRESHOLD
    assert duplicate_candidates([first, second]) == {first.number: [], second.number: []}


def test_stems_join_two_word_verbs_and_leave_out_stopwords() -> None:
    terms = SubjectTerms()
    assert terms.stems("Crash when logging in via SSO") == ["crash", "login", "sso"]
    assert terms.stems("App crashes on login with SSO") == ["app", "crash", "login", "sso"]
    assert terms.stems("Signing up is broken") == ["signup", "broken"]


def test_candidates_are_the_closest_few_best_first() -> None:
    base = "Worker leaks memory when the export queue backs up"
    issues = [
        _issue(1, base, "memory grows"),
        _issue(2, base, "memory grows"),
        _issue(3, base, "memory grows until OOM"),
        _issue(4, base, "memory grows until OOM, seen in production on Tuesday"),
        _issue(5, base, "RSS memory grows until OOM, seen in production on Tuesday after a deploy of 2.3"),
    ]
    candidates = duplicate_candidates(issues)
    assert candidates[1] == [2, 3, 4]
    assert all(len(found) == MAX_CANDIDATES for found in candidates.values())


SENTENCE = re.compile(r"^[A-Z][^\n]*[.!?]$")


@pytest.mark.parametrize(
    ("title", "body", "kind", "priority", "reason"),
    [
        ("Tokens leak into logs", "A security problem: we log the token.", "chore", "P0", "It mentions “security”"),
        ("App crashes on login with SSO", "", "bug", "P1", "A bug report that mentions “crashes”"),
        ("Wrong total in the invoice", "The sum is off by one.", "bug", "P2", "A bug report with no sign"),
        ("Add a dark mode", "Would be nice.", "feature", "P2", "A feature request with no sign of urgency."),
        ("How do I configure SSO?", "", "question", "P3", "A question rather than a defect"),
        ("Typo in the README install section", "", "docs", "P3", "A documentation issue rather than a defect"),
        ("Bump the dependencies", "", "chore", "P3", "Maintenance work with no sign of urgency."),
    ],
)
def test_offline_priorities_are_explained_in_whole_sentences(
    title: str, body: str, kind: str, priority: str, reason: str
) -> None:
    triage = heuristic_triage(_issue(1, title, body), LABELS, [])
    assert (triage.type, triage.priority, triage.offline) == (kind, priority, True)
    assert triage.reason.startswith(reason)
    assert SENTENCE.match(triage.reason), triage.reason


def test_offline_triage_of_the_demo_reads_as_sentences_and_names_the_duplicates() -> None:
    candidates = duplicate_candidates(DEMO)
    items = [heuristic_triage(issue, LABELS, candidates[issue.number]) for issue in DEMO]
    text = render_triage("acme/widgets", IssuePage(DEMO, 0, 0), items, offline=True)
    assert "possible duplicate of #2" in text and "possible duplicate of #1" in text
    assert " — a docs" not in text and " — a question" not in text
    reasons = re.findall(r"^• .* — (.+)$", text, flags=re.M)
    assert len(reasons) == len(DEMO) and all(SENTENCE.match(reason) for reason in reasons)
    assert "suggested label: `documentation`" in text
