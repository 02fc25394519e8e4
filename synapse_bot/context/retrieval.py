"""Rank texts by lexical relevance to a question (BM25, English stopwords, Snowball stems).

`bm25s` does the scoring (a small, maintained library over numpy's sparse arithmetic); `snowballstemmer`, which
triage already uses, gives it stems so "migrated" finds "migration". Imported on first use, so processes that never
rank (a gateway) never load numpy.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def rank(query: str, texts: list[str], top_k: int) -> list[int]:
    """Indices of the `top_k` texts most relevant to `query`, best first; only texts sharing a word with it."""
    if not texts or top_k <= 0 or not query.strip():
        return []
    import bm25s

    options: dict[str, Any] = {"stopwords": "en", "stemmer": _stemmer(), "show_progress": False}
    corpus = bm25s.tokenize(texts, **options)
    question = bm25s.tokenize([query], **options)
    if not corpus.vocab or not any(question.ids):
        return []  # nothing but stopwords on one side: no word to match on
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    k = min(top_k, len(texts))
    found, scores = retriever.retrieve(question, k=k, show_progress=False)
    return [int(i) for i, score in zip(found[0], scores[0], strict=True) if float(score) > 0.0]
