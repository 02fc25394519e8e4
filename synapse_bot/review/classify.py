"""What kind of file a changed file is: main-language source, test, something else, or something never sent.

Skip reasons name what a file is ("renamed without changes", "empty new file"), never a guess: GitHub leaves the
patch out both for binaries and for files too large to show, so only those get that reason. Generated code is
recognised by its path (minified bundles, protobuf output, snapshots) or by the header generators write
("DO NOT EDIT", "@generated"); a folder called `build/` is not a sign of generated code (real packages have them).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import PurePosixPath

from synapse_bot.github_data import FileData
from synapse_bot.review.numbering import parse_hunks

LOCKFILE = "lockfile"
VENDORED = "vendored"
GENERATED = "generated or minified"
BINARY = "binary or too large for GitHub to show"
RENAMED = "renamed without changes"
EMPTY = "empty new file"
MODE_ONLY = "no content change"
COUNTED_ONLY_REASONS = (LOCKFILE, VENDORED)  # many and uninteresting: counted, never listed to the model

LOCKFILES = {
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "pipfile.lock",
    "pdm.lock",
    "cargo.lock",
    "gemfile.lock",
    "go.sum",
    "composer.lock",
    "uv.lock",
    "packages.lock.json",
    "podfile.lock",
    "mix.lock",
    "flake.lock",
    "pubspec.lock",
}
GENERATED_PATH = re.compile(
    r"(\.min\.(js|css)$|\.map$|_pb2(_grpc)?\.pyi?$|\.pb\.go$|\.pb\.(cc|h)$|\.generated\.|(^|/)generated/"
    r"|\.snap$|(^|/)__snapshots__/)",
    re.IGNORECASE,
)
DIST_DIR = re.compile(r"(^|/)dist/", re.IGNORECASE)  # bundles; source files under dist/ are still source
GENERATED_HEADER = re.compile(r"DO NOT EDIT|@generated\b|Code generated .* DO NOT EDIT|[Aa]utogenerated file")
HEADER_LINES = 10  # generators put their marker in the first lines of the file
VENDORED_PATH = re.compile(r"(^|/)(vendor|vendored|_vendor|third_party|node_modules|\.yarn)/", re.IGNORECASE)
BINARY_EXT = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".ico",
    ".pdf",
    ".zip",
    ".gz",
    ".tar",
    ".jar",
    ".woff",
    ".woff2",
    ".ttf",
    ".eot",
    ".mp4",
    ".mov",
    ".so",
    ".dll",
    ".exe",
    ".bin",
    ".whl",
    ".pyc",
    ".webp",
    ".svgz",
}
LANGUAGE_EXT = {
    "Python": {".py", ".pyi"},
    "JavaScript": {".js", ".jsx", ".mjs", ".cjs"},
    "TypeScript": {".ts", ".tsx", ".mts", ".cts"},
    "Go": {".go"},
    "Rust": {".rs"},
    "Java": {".java"},
    "Kotlin": {".kt", ".kts"},
    "Ruby": {".rb"},
    "C": {".c", ".h"},
    "C++": {".cc", ".cpp", ".cxx", ".hpp", ".hh", ".h"},
    "C#": {".cs"},
    "PHP": {".php"},
    "Swift": {".swift"},
    "Scala": {".scala"},
}
TEST_DIRS = {"test", "tests", "testing", "__tests__", "spec", "specs"}
MAIN_LANGUAGE_SHARE = 0.25  # a language with this share of the changed code lines counts as a main language


def changed(change: FileData) -> int:
    return change.additions + change.deletions


def languages_of(path: str) -> set[str]:
    suffix = PurePosixPath(path).suffix.lower()
    return {name for name, extensions in LANGUAGE_EXT.items() if suffix in extensions}


def is_code(path: str) -> bool:
    return bool(languages_of(path))


def is_test(path: str) -> bool:
    parts = path.lower().split("/")
    name = parts[-1]
    return (
        any(part in TEST_DIRS for part in parts[:-1])
        or name.startswith("test_")
        or name == "conftest.py"
        or "_test." in name
        or ".spec." in name
        or ".test." in name
    )


def has_generated_header(patch: str) -> bool:
    """True when the first lines of the new file, as far as the patch shows them, carry a generator's marker."""
    hunks = parse_hunks(patch)
    return bool(hunks) and any(
        line.new_number is not None and line.new_number <= HEADER_LINES and GENERATED_HEADER.search(line.text)
        for line in hunks[0].lines
    )


def skip_reason(change: FileData) -> str | None:
    """Why a (not deleted) file's diff is never sent, or None when it is reviewable."""
    path = change.filename
    name = PurePosixPath(path).name.lower()
    if name in LOCKFILES:
        return LOCKFILE
    if VENDORED_PATH.search(path):
        return VENDORED
    if GENERATED_PATH.search(path) or (DIST_DIR.search(path) and not is_code(path)):
        return GENERATED
    if PurePosixPath(path).suffix.lower() in BINARY_EXT:
        return BINARY
    if not change.patch:
        if change.status == "renamed" and changed(change) == 0:
            return RENAMED
        if change.status == "added" and changed(change) == 0:
            return EMPTY
        if changed(change) == 0:
            return MODE_ONLY
        return BINARY
    if has_generated_header(change.patch):
        return GENERATED
    return None


def main_languages(files: Iterable[FileData], repo_language: str | None) -> set[str]:
    """The repository's language plus any language with a large share of the changed non-test code lines."""
    lines: Counter[str] = Counter()
    for change in files:
        if not is_test(change.filename):
            for language in languages_of(change.filename):
                lines[language] += changed(change)
    total = sum(lines.values())
    main = {language for language, n in lines.items() if total and n / total >= MAIN_LANGUAGE_SHARE}
    if repo_language in LANGUAGE_EXT:
        main.add(repo_language)
    elif not main and lines:
        main.add(lines.most_common(1)[0][0])
    return main


def is_main_source(path: str, main: set[str]) -> bool:
    return not is_test(path) and bool(languages_of(path) & main)
