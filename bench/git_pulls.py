"""Pull requests built from a local git repository: `git diff` between two commits, in the shape GitHub's API gives.

GitHub's "files" endpoint gives, per file, the status, the +/- counts and the patch from the first "@@" on (none
for binaries). `files_from_git_diff` turns `git diff` output into the same `FileData`, so the packer sees what it
would see in production; `new_file` reads a file as of a commit, to check line numbers against.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from synapse_bot.github_data import FileData

_DIFF_HEADER = re.compile(r"^diff --git a/(.*) b/(.*)$")
GIT = ("git", "-c", "core.quotepath=false")


def git(repo: Path, *args: str) -> str:
    result = subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True)
    return result.stdout.decode("utf-8", errors="replace")


def files_from_git_diff(diff: str) -> list[FileData]:
    """`git diff -M` output as GitHub's per-file records (split on "\\n" only: "\\r" belongs to its line)."""
    files: list[FileData] = []
    for section in re.split(r"^(?=diff --git )", diff, flags=re.MULTILINE):
        if not section.startswith("diff --git "):
            continue
        lines = section.split("\n")
        match = _DIFF_HEADER.match(lines[0])
        old = new = match.group(2) if match else lines[0]
        status = "modified"
        body_start = None
        for i, line in enumerate(lines[1:], start=1):
            if line.startswith("@@"):
                body_start = i
                break
            if line.startswith("new file mode"):
                status = "added"
            elif line.startswith("deleted file mode"):
                status = "removed"
            elif line.startswith("rename from "):
                old, status = line[len("rename from ") :], "renamed"
            elif line.startswith("rename to "):
                new = line[len("rename to ") :]
            elif line.startswith("--- a/"):
                old = line[len("--- a/") :]
            elif line.startswith("+++ b/"):
                new = line[len("+++ b/") :]
        if status == "removed":
            new = old
        patch = None
        additions = deletions = 0
        if body_start is not None:
            body = lines[body_start:]
            while body and body[-1] == "":
                body.pop()
            patch = "\n".join(body)
            for line in body:
                if line.startswith("+"):
                    additions += 1
                elif line.startswith("-"):
                    deletions += 1
        previous = old if status == "renamed" else None
        files.append(FileData(new, status, additions, deletions, patch, previous))
    return files


def pull_files(repo: Path, base: str, head: str) -> list[FileData]:
    return files_from_git_diff(git(repo, "diff", "-M", "--no-color", "--no-ext-diff", "-U3", base, head))


def new_file(repo: Path, head: str, path: str) -> list[str]:
    """The file's lines as of `head`, split on "\\n" only (line N is element N-1)."""
    return git(repo, "show", f"{head}:{path}").split("\n")


_NUMBERED = re.compile(r"^(\d+) [+ ](.*)$", re.DOTALL)


def check_line_numbers(text: str, names: list[str], lines_of: Callable[[str], list[str]]) -> tuple[int, int]:
    """(numbered lines checked, numbered lines whose text differs from that line of the new file).

    `text` is a packed diff: "## path (…)" headings, then hunks whose new-side lines read "N +text" or "N  text".
    """
    by_length = sorted(names, key=len, reverse=True)
    checked = wrong = 0
    current: list[str] | None = None
    for line in text.split("\n"):
        if line.startswith("## "):
            name = next((n for n in by_length if line.startswith(f"## {n} (")), None)
            current = lines_of(name) if name is not None else None
            continue
        match = _NUMBERED.match(line)
        if match is None or current is None:
            continue
        number, content = int(match.group(1)), match.group(2)
        checked += 1
        if not (1 <= number <= len(current) and current[number - 1] == content):
            wrong += 1
    return checked, wrong
