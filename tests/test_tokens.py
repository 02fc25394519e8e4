"""Token counts are exact for OpenAI models, from tiktoken's own files verified by sha256; estimates say so."""

from __future__ import annotations

import hashlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken_ext.openai_public

from synapse_bot.llm.tokens import (
    BUNDLED_DIR,
    MARGIN_UNKNOWN,
    PUBLISHED_SHA256,
    EncodingFileError,
    TokenCounter,
    bundled_encoding,
    encoding_name_for,
    load_encoding,
)

# Token ids published by OpenAI: cl100k in openai/tiktoken's tests/test_encoding.py, o200k in openai/harmony's
# tests (its gpt-oss encoding shares o200k's ranks and split pattern, so ordinary text encodes the same).
PUBLISHED_IDS = [
    ("cl100k_base", "hello world", [15339, 1917]),
    ("cl100k_base", "rer", [38149]),
    ("cl100k_base", "'rer", [2351, 81]),
    ("cl100k_base", "today\n \n", [31213, 27907]),
    ("cl100k_base", "today\n  \n", [31213, 14211]),
    ("cl100k_base", "👍", [9468, 239, 235]),
    ("o200k_base", "hello world", [24912, 2375]),
    ("o200k_base", "<|start|>", [27, 91, 5236, 91, 29]),
]


@pytest.mark.parametrize(("encoding", "text", "ids"), PUBLISHED_IDS)
def test_bundled_encodings_give_the_published_token_ids(encoding: str, text: str, ids: list[int]) -> None:
    loaded = bundled_encoding(encoding)
    assert loaded is not None
    assert loaded.encode_ordinary(text) == ids
    assert loaded.decode(ids) == text


@pytest.mark.parametrize(("model", "encoding"), [("gpt-4o-mini", "o200k_base"), ("gpt-4", "cl100k_base")])
def test_openai_models_count_exactly_with_their_own_encoding(model: str, encoding: str) -> None:
    counter = TokenCounter(model)
    assert (counter.exact, counter.margin) == (True, 1.0)
    for published_encoding, text, ids in PUBLISHED_IDS:
        if published_encoding == encoding:
            assert counter.count(text) == len(ids)


def test_the_two_encodings_really_differ_where_it_matters() -> None:
    text = "日本語のテキストとEnglish text, with some code: def f(x): return x ** 2\n" * 20
    o200k, cl100k = TokenCounter("gpt-4o").count(text), TokenCounter("gpt-4").count(text)
    assert o200k < cl100k  # o200k packs this text tighter: an o200k model counted with cl100k is over-counted


def test_our_hashes_are_the_ones_tiktoken_publishes() -> None:
    for name, digest in PUBLISHED_SHA256.items():
        constructor = inspect.getsource(getattr(tiktoken_ext.openai_public, name))
        assert f"encodings/{name}.tiktoken" in constructor and f'expected_hash="{digest}"' in constructor
        assert hashlib.sha256(BUNDLED_DIR.joinpath(f"{name}.tiktoken").read_bytes()).hexdigest() == digest


def test_licence_notice_sits_next_to_the_files() -> None:
    notice = BUNDLED_DIR.joinpath("LICENSE").read_text()
    assert "MIT License" in notice and "OpenAI" in notice


def test_a_corrupted_encoding_file_is_refused(tmp_path: Path) -> None:
    original = BUNDLED_DIR.joinpath("cl100k_base.tiktoken").read_bytes()
    # Swap the ranks of two tokens: still a well-formed file, but it would count wrongly.
    first, second, rest = original.split(b"\n", 2)
    swapped = first.split()[0] + b" 1\n" + second.split()[0] + b" 0\n" + rest
    (tmp_path / "cl100k_base.tiktoken").write_bytes(swapped)
    with pytest.raises(EncodingFileError, match="sha256"):
        load_encoding("cl100k_base", tmp_path)


def test_a_missing_or_unknown_encoding_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EncodingFileError, match="cannot be read"):
        load_encoding("o200k_base", tmp_path)
    with pytest.raises(EncodingFileError, match="not an encoding Synapse ships"):
        load_encoding("p50k_base")


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-5.1", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-pro", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("GPT-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-32k-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),  # from tiktoken's own table
        ("llama3.1:8b", None),
        ("qwen2.5-coder", None),
        ("gpt-4.7", None),  # a newer gpt-4.x we do not know yet is not taken for gpt-4
        ("o10", None),
    ],
)
def test_model_to_encoding(model: str, encoding: str | None) -> None:
    assert encoding_name_for(model) == encoding


@pytest.mark.parametrize("model", ["llama3.1:8b", "some-azure-deployment", "gpt-oss-20b", "davinci"])
def test_other_models_get_estimates_labelled_as_such(model: str) -> None:
    counter = TokenCounter(model)
    exact_cl100k = TokenCounter("gpt-4")
    text = "The quick brown fox jumps over the lazy dog. " * 50
    assert (counter.exact, counter.margin) == (False, MARGIN_UNKNOWN)
    assert counter.count(text) >= exact_cl100k.count(text) * MARGIN_UNKNOWN


def test_special_token_text_is_counted_as_plain_text() -> None:
    # A Slack message quoting "<|endoftext|>" must be counted, not rejected.
    assert TokenCounter("gpt-4o").count("say <|endoftext|> now") > 3


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "some-local-model"])
def test_truncate_keeps_a_prefix_within_the_budget_even_mid_character(model: str) -> None:
    counter = TokenCounter(model)
    text = "日本語のテキスト 👍🏽 " * 400
    for budget in (1, 2, 7, 50, 333):
        cut = counter.truncate(text, budget)
        assert text.startswith(cut)
        assert counter.count(cut) <= budget
    assert counter.truncate(text, 10**6) == text


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_a_loaded_encoding_keeps_no_python_copy_of_its_ranks_and_still_decodes_every_token(name: str) -> None:
    encoding = bundled_encoding(name)
    assert encoding is not None
    assert not encoding._mergeable_ranks  # the 28 MB copy is gone (only pickling used it)
    text = "Deploy v2.3 failed: `ImportError` in auth/session.py — rolled back at 14:05 🎉"
    assert encoding.decode(encoding.encode_ordinary(text)) == text
    assert encoding.n_vocab > 100_000


def test_a_counter_loads_its_token_table_on_the_first_count_not_when_made() -> None:
    """A gateway builds a counter it may never use (it answers in-process only while Redis is down): 47 MB saved."""
    script = (
        "from synapse_bot.llm.tokens import TokenCounter, bundled_encoding\n"
        "counter = TokenCounter('gpt-4o-mini')\n"
        "print(bundled_encoding.cache_info().currsize)\n"
        "print(counter.count('hello world'), counter.exact, bundled_encoding.cache_info().currsize)\n"
        "print(TokenCounter('llama3').load().exact, bundled_encoding.cache_info().currsize)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split("\n")[:3] == ["0", "2 True 1", "False 2"]
