"""Duplicate candidates from our own similarity check, so the model can only confirm, never invent.

Two issues are candidates when they are about the same subject. Each issue becomes a weighted bag of word stems
(Snowball's English stemmer, so "crashes" meets "crash" and "logging in" meets "login"): title words count twice,
body words once, and words that only say what kind of issue it is ("crash", "error", "add support") count a
quarter. Those words tell the type, not the subject, and would otherwise pair "App crashes on startup" with "App
crashes when exporting CSV". Two bags are compared by weighted Jaccard similarity against a threshold. The cost is
quadratic in the number of issues, which is capped at 100.
"""

from __future__ import annotations

import snowballstemmer

from synapse_bot.github_data import IssueData
from synapse_bot.monitors.matcher import tokens

STOPWORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "without",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "these",
        "those",
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "my",
        "our",
        "your",
        "their",
        "when",
        "while",
        "after",
        "before",
        "not",
        "no",
        "can",
        "cannot",
        "can't",
        "does",
        "doesn't",
        "do",
        "don't",
        "should",
        "would",
        "could",
        "will",
        "just",
        "also",
        "please",
        "any",
        "all",
        "some",
        "more",
        "most",
        "very",
        "so",
        "as",
        "into",
        "out",
        "up",
        "how",
        "what",
        "why",
        "where",
        "which",
        "who",
        "there",
        "here",
        "get",
        "got",
        "using",
        "use",
        "used",
        "via",
    )
)
# Words that say what kind of issue it is (bug, feature request…) rather than what it is about.
KIND_WORDS = frozenset(
    (
        "app",
        "application",
        "bug",
        "issue",
        "problem",
        "crash",
        "error",
        "exception",
        "fail",
        "failure",
        "broken",
        "break",
        "wrong",
        "regression",
        "add",
        "support",
        "feature",
        "request",
        "allow",
        "enable",
        "option",
        "would",
        "like",
        "need",
        "want",
        "nice",
    )
)
KIND_WEIGHT = 0.25
TITLE_WEIGHT = 2.0
BODY_CHARS = 4000
# Two-word verbs that are one word as a noun: "logging in" is about the login.
COMPOUNDS = {
    ("log", "in"): "login",
    ("log", "on"): "login",
    ("sign", "in"): "signin",
    ("sign", "on"): "signin",
    ("sign", "up"): "signup",
    ("set", "up"): "setup",
}
# Midway between the lowest score of the duplicate pairs in tests/test_triage_pure.py (0.36) and the highest of the
# unrelated ones (0.29). Known miss: the same bug told in wholly different words ("Export to CSV fails with unicode
# names" / "CSV export breaks on non-ASCII characters", 0.28): that needs the model, not lexical similarity.
THRESHOLD = 0.33
MAX_CANDIDATES = 3


class SubjectTerms:
    """Turns issue text into the stems that say what it is about, with their weights.

    Holds its own stemmer: Snowball stemmers keep state while stemming, so one must not be shared across threads.
    """

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("english")
        self._ignored = frozenset(self._stemmer.stemWords(sorted(STOPWORDS))) | STOPWORDS
        self._kind = frozenset(self._stemmer.stemWords(sorted(KIND_WORDS)))

    def stems(self, text: str) -> list[str]:
        """The text's word stems, two-word verbs joined, stopwords and stems under three letters left out."""
        stems: list[str] = self._stemmer.stemWords(tokens(text))
        joined: list[str] = []
        i = 0
        while i < len(stems):
            pair = (stems[i], stems[i + 1]) if i + 1 < len(stems) else None
            if pair in COMPOUNDS:
                joined.append(COMPOUNDS[pair])
                i += 2
            else:
                joined.append(stems[i])
                i += 1
        return [stem for stem in joined if stem not in self._ignored and len(stem) > 2]

    def bag(self, issue: IssueData) -> dict[str, float]:
        """Each subject stem of the issue with its weight: title over body, subject words over kind words."""
        bag: dict[str, float] = {}
        for weight, text in ((TITLE_WEIGHT, issue.title), (1.0, issue.body[:BODY_CHARS])):
            for stem in self.stems(text):
                bag[stem] = bag.get(stem, 0.0) + weight * (KIND_WEIGHT if stem in self._kind else 1.0)
        return bag


def similarity(a: dict[str, float], b: dict[str, float]) -> float:
    """Weighted Jaccard: the weight two bags share over the weight either has (0 to 1)."""
    shared = sum(min(weight, b[stem]) for stem, weight in a.items() if stem in b)
    either = sum(a.values()) + sum(b.values()) - shared
    return shared / either if either else 0.0


def duplicate_candidates(issues: list[IssueData]) -> dict[int, list[int]]:
    """For each issue number, up to three other issue numbers that look like the same problem, best first."""
    terms = SubjectTerms()
    bags = {issue.number: terms.bag(issue) for issue in issues}
    scores: dict[int, list[tuple[float, int]]] = {issue.number: [] for issue in issues}
    numbers = list(bags)
    for i, a in enumerate(numbers):
        for b in numbers[i + 1 :]:
            score = similarity(bags[a], bags[b])
            if score >= THRESHOLD:
                scores[a].append((score, b))
                scores[b].append((score, a))
    return {n: [other for _, other in sorted(found, reverse=True)[:MAX_CANDIDATES]] for n, found in scores.items()}
