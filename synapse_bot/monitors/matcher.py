"""Find every monitored keyword or phrase in a message in one pass.

Text and keywords are normalised the same way (NFKC, case-folded, invisible characters removed) and split into
word tokens; CJK characters, which have no spaces between words, are tokens one character each. Keywords live in a
trie over tokens, so matching walks the message once and at each word follows the trie at most MAX_PHRASE_WORDS
steps: the cost per message does not grow with the number of keywords, and no user text ever becomes a regex.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_PHRASE_WORDS = 8
MAX_KEYWORD_CHARS = 100

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _TOKEN.findall(text.casefold())


class InvalidKeyword(ValueError):
    pass


def normalise_keyword(keyword: str) -> tuple[str, ...]:
    """The token sequence a keyword matches; InvalidKeyword says why a keyword can't be used."""
    shown = keyword.strip()[:40]
    if len(keyword) > MAX_KEYWORD_CHARS:
        raise InvalidKeyword(f"“{shown}…” is longer than {MAX_KEYWORD_CHARS} characters")
    words = tuple(tokens(keyword))
    if not words:
        raise InvalidKeyword(f"“{shown}” has no letters or digits to match")
    if len(words) > MAX_PHRASE_WORDS:
        raise InvalidKeyword(f"“{shown}” has more than {MAX_PHRASE_WORDS} words")
    return words


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    keyword: str | None = None  # the keyword as the user wrote it, when a phrase ends here


class KeywordMatcher:
    def __init__(self, keywords: Iterable[str]) -> None:
        self._root = _Node()
        self.size = 0
        for keyword in keywords:
            self.add(keyword)

    def add(self, keyword: str) -> None:
        node = self._root
        for word in normalise_keyword(keyword):
            node = node.children.setdefault(word, _Node())
        if node.keyword is None:
            self.size += 1
            node.keyword = keyword.strip()

    def find(self, text: str) -> list[str]:
        """The distinct keywords present in `text`, in order of first appearance."""
        words = tokens(text)
        found: dict[str, None] = {}
        for start in range(len(words)):
            node = self._root
            for word in words[start : start + MAX_PHRASE_WORDS]:
                next_node = node.children.get(word)
                if next_node is None:
                    break
                node = next_node
                if node.keyword is not None:
                    found.setdefault(node.keyword)
        return list(found)
