"""Duplicate candidates from our own similarity check, so the model can only confirm, never invent.

Each issue becomes a set of content words from its title (counted twice) and body; two issues are candidates when
their weighted Jaccard similarity passes a threshold. Quadratic in the number of issues, which is capped at 100.
"""

from __future__ import annotations

from collections import Counter

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
    )
)
THRESHOLD = 0.35
MAX_CANDIDATES = 3


def _bag(issue: IssueData) -> Counter[str]:
    bag: Counter[str] = Counter()
    for word in tokens(issue.title):
        if word not in STOPWORDS and len(word) > 2:
            bag[word] += 2
    for word in tokens(issue.body[:4000]):
        if word not in STOPWORDS and len(word) > 2:
            bag[word] += 1
    return bag


def similarity(a: Counter[str], b: Counter[str]) -> float:
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 0.0


def duplicate_candidates(issues: list[IssueData]) -> dict[int, list[int]]:
    """For each issue number, up to three other issue numbers that look like the same problem, best first."""
    bags = {issue.number: _bag(issue) for issue in issues}
    scores: dict[int, list[tuple[float, int]]] = {issue.number: [] for issue in issues}
    numbers = list(bags)
    for i, a in enumerate(numbers):
        for b in numbers[i + 1 :]:
            score = similarity(bags[a], bags[b])
            if score >= THRESHOLD:
                scores[a].append((score, b))
                scores[b].append((score, a))
    return {n: [other for _, other in sorted(found, reverse=True)[:MAX_CANDIDATES]] for n, found in scores.items()}
