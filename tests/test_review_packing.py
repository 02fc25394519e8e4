"""Review packing, pure: numbered lines checked against real `git diff` output, ordering, what the model is told
it cannot see, skip rules, and the call budget (prompt + schema + answer) with exact token counts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bench.git_pulls import check_line_numbers, files_from_git_diff, pull_files
from synapse_bot.github_data import FileData
from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.review.classify import BINARY, EMPTY, GENERATED, MODE_ONLY, RENAMED, skip_reason
from synapse_bot.review.model import review_response_format
from synapse_bot.review.numbering import new_side_lines, parse_hunks, split_lines
from synapse_bot.review.offline import NO_MODEL, heuristic_review
from synapse_bot.review.packing import OVER_BUDGET, pack_diff, source_coverage
from synapse_bot.review.render import left_out_note
from synapse_bot.tools.review_pull_request import call_tokens, nothing_sent, pack_for_call, review_messages

# --- line numbers, on diffs git really produces ------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _commit_all(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)


OLD_PY = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(60))
NEW_PY = (
    OLD_PY.replace("return 5\n", "return 5  # five\n").replace(
        "def f30():\n    return 30\n\n",
        "",  # a deletion-only hunk
    )
    + "def tail():\n    return 'no newline'"
)
OLD_CRLF = "".join(f"line {i}\r\n" for i in range(1, 40))
NEW_CRLF = OLD_CRLF.replace("line 3\r\n", "line three\r\nline 3b\r\n").replace("line 30\r\n", "")
# Characters str.splitlines() would break on, inside lines: every number after them would shift.
ODD = "".join(f"x{i} = 'a\x0bb\x0cc\x1cd\u2028e\x85f'\n" for i in range(30))
NEW_ODD = ODD.replace("x10 =", "y10 =").replace("x25 =", "y25 =")


def _real_diff(tmp_path: Path) -> tuple[Path, list[FileData]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "app.py").write_text(OLD_PY)
    (repo / "crlf.txt").write_bytes(OLD_CRLF.encode())
    (repo / "odd.py").write_bytes(ODD.encode())
    (repo / "gone.py").write_text("x = 1\n")
    (repo / "moved_old.py").write_text(OLD_PY)
    _commit_all(repo, "base")
    (repo / "app.py").write_text(NEW_PY)
    (repo / "crlf.txt").write_bytes(NEW_CRLF.encode())
    (repo / "odd.py").write_bytes(NEW_ODD.encode())
    (repo / "gone.py").unlink()
    (repo / "moved_old.py").rename(repo / "moved_new.py")
    (repo / "empty.py").write_text("")
    (repo / "new_module.py").write_text("a = 1\r\nb = 2\nc = 3")
    _commit_all(repo, "change")
    return repo, pull_files(repo, "HEAD~1", "HEAD")


def test_every_number_matches_the_new_file_on_a_real_git_diff(tmp_path: Path) -> None:
    repo, files = _real_diff(tmp_path)
    by_name = {f.filename: f for f in files}
    assert by_name["gone.py"].status == "removed" and by_name["moved_new.py"].status == "renamed"
    assert "\\ No newline at end of file" in (by_name["app.py"].patch or "")
    packed = pack_diff(files, 50_000, TokenCounter("gpt-4").count, "Python")
    assert set(packed.included) == {"app.py", "crlf.txt", "odd.py", "new_module.py"}

    def lines_of(path: str) -> list[str]:
        return (repo / path).read_bytes().decode().split("\n")

    checked, wrong = check_line_numbers(packed.text, packed.included, lines_of)
    added = sum(f.additions for f in files if f.filename in packed.included)
    assert wrong == 0 and checked > added  # every added line and its context numbered, all right
    assert "\n-def f30():\n" in packed.text  # the deletion-only hunk is kept, its lines unnumbered
    assert "\n3 +line three\r\n4 +line 3b\r\n" in packed.text
    shifted = packed.text.replace("\n3 +line three\r\n", "\n4 +line three\r\n")
    assert check_line_numbers(shifted, packed.included, lines_of) == (checked, 1)  # the check does catch a wrong one


def test_numbers_split_on_newline_only() -> None:
    patch = "@@ -1,3 +1,4 @@\n a\u2028still a\n-b\r\n+B\r\n+C\x0cC\n c\n\\ No newline at end of file"
    hunk = parse_hunks(patch)[0]
    assert [(line.kind, line.new_number) for line in hunk.lines] == [
        (" ", 1),
        ("-", None),
        ("+", 2),
        ("+", 3),
        (" ", 4),
        ("\\", None),
    ]
    assert new_side_lines(patch) == {1, 2, 3, 4}
    assert split_lines("a\rb\n") == ["a\rb"]


def test_a_patch_from_git_reads_like_githubs() -> None:
    diff = (
        "diff --git a/src/x.py b/src/x.py\nindex 1..2 100644\n--- a/src/x.py\n+++ b/src/x.py\n"
        "@@ -10,2 +10,3 @@ def g():\n     a\n+    b\n     c\n"
        "diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0..1\n"
        "Binary files /dev/null and b/logo.png differ\n"
    )
    x, logo = files_from_git_diff(diff)
    assert (x.filename, x.status, x.additions, x.deletions) == ("src/x.py", "modified", 1, 0)
    assert x.patch == "@@ -10,2 +10,3 @@ def g():\n     a\n+    b\n     c"
    assert (logo.filename, logo.status, logo.patch) == ("logo.png", "added", None)


# --- ordering and coverage -------------------------------------------------------------------------------------


def _file(name: str, lines: int, status: str = "modified", start: int = 1) -> FileData:
    body = "\n".join(f"+{name.split('/')[-1]}_{i} = {i}" for i in range(lines))
    return FileData(name, status, lines, 0, f"@@ -{start},0 +{start},{lines} @@\n{body}")


def test_source_first_then_tests_then_the_rest() -> None:
    files = [
        _file("README.md", 2),
        _file("tests/test_core.py", 50),
        _file("web/app.ts", 4),
        _file("pkg/core.py", 10),
        _file("pkg/big.py", 30),
    ]
    packed = pack_diff(files, 100_000, len, "Python")
    assert packed.included == ["pkg/big.py", "pkg/core.py", "tests/test_core.py", "web/app.ts", "README.md"]
    assert packed.text.index("## pkg/core.py") < packed.text.index("## tests/test_core.py")
    # A second language with a large share of the changed code is a main language of this pull request.
    files[2] = _file("web/app.ts", 40)
    assert pack_diff(files, 100_000, len, "Python").included[:3] == ["web/app.ts", "pkg/big.py", "pkg/core.py"]


def test_one_huge_file_does_not_crowd_out_the_rest() -> None:
    files = [_file("pkg/huge.py", 3_000), *(_file(f"pkg/m{i}.py", 20) for i in range(20))]
    packed = pack_diff(files, 20_000, len, "Python")
    assert {f"pkg/m{i}.py" for i in range(20)} <= set(packed.included)
    assert packed.cut and packed.cut[0][0] == "pkg/huge.py"


files_strategy = st.lists(
    st.tuples(
        st.sampled_from(["pkg/a", "pkg/b", "tests/test_c", "docs/d", "web/e"]),
        st.sampled_from([".py", ".md", ".ts"]),
        st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 40)), min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=12,
)


def _random_pull(spec: list[tuple[str, str, list[tuple[int, int, int]]]]) -> list[FileData]:
    files = []
    for i, (stem, ext, hunks) in enumerate(spec):
        parts, new_start, adds, dels = [], 1, 0, 0
        for added, deleted, width in hunks:
            body = [f"-old {i} {j} " + "x" * width for j in range(deleted)]
            body += [f"+new {i} {j} " + "y" * (width // 2) for j in range(added)] or [" ctx"]
            parts.append(f"@@ -{new_start},{deleted} +{new_start},{added} @@\n" + "\n".join(body))
            new_start += added + 5
            adds, dels = adds + added, dels + deleted
        files.append(FileData(f"{stem}{i}{ext}", "modified", adds, dels, "\n".join(parts)))
    return files


@settings(max_examples=60, deadline=None)
@given(files_strategy, st.integers(200, 6_000), st.integers(1, 6_000))
@example(  # a file continued in the second round once took more than its allowance
    [("pkg/a", ".py", [(0, 0, 0), (0, 27, 32), (10, 1, 0)]), ("pkg/a", ".py", [(10, 11, 2), (20, 28, 29), (12, 0, 0)])],
    3505,
    47,
)
@example([("pkg/a", ".py", [(0, 0, 0)])] * 11 + [("tests/test_c", ".py", [(0, 0, 0)])], 200, 1)  # only the note
def test_source_coverage_never_drops_as_the_budget_grows(
    spec: list[tuple[str, str, list[tuple[int, int, int]]]], budget: int, more: int
) -> None:
    files = _random_pull(spec)
    smaller = pack_diff(files, budget, len, "Python")
    larger = pack_diff(files, budget + more, len, "Python")
    assert smaller.tokens <= budget and larger.tokens <= budget + more
    assert source_coverage(files, smaller.shown_changed, "Python") <= source_coverage(
        files, larger.shown_changed, "Python"
    )
    for name, lines in smaller.shown_changed.items():  # and no file loses lines it had
        assert larger.shown_changed.get(name, 0) >= lines


def test_coverage_with_real_token_counts_never_drops() -> None:
    counter = TokenCounter("gpt-4")
    files = _random_pull([(f"pkg/m{i}", ".py", [(15 + i, i % 4, 30), (i, 2, 10)]) for i in range(30)])
    shares = [
        source_coverage(files, pack_diff(files, b, counter.count, "Python").shown_changed, "Python")
        for b in range(500, 12_000, 250)
    ]
    assert shares == sorted(shares) and shares[0] < 0.1 and shares[-1] > 0.6


# --- what the model is told ------------------------------------------------------------------------------------


def test_the_model_is_told_what_it_cannot_see_and_why() -> None:
    files = [
        *(FileData(f"vendor/pkg{i}/x.py", "removed", 0, 10, "@@ -1 +0,0 @@\n-x") for i in range(2_500)),
        *(FileData(f"src/old_{i}.py", "removed", 0, 3, "@@ -1 +0,0 @@\n-x") for i in range(40)),
        FileData("poetry.lock", "modified", 100, 90, "@@ -1 +1 @@\n-a\n+b"),
        FileData("third_party/lib.c", "modified", 1, 1, "@@ -1 +1 @@\n-a\n+b"),
        FileData("pkg/api_pb2.py", "added", 1, 0, "@@ -0,0 +1 @@\n+x"),
        *(_file(f"src/m{i}.py", 200) for i in range(30)),
    ]
    counter = TokenCounter("gpt-4")
    packed = pack_diff(files, 6_000, counter.count, "Python")
    note = packed.note
    assert "Deleted files, not shown (2,540, 2,500 of them vendored or lockfiles): src/old_0.py" in note
    assert "vendor/pkg" not in note and "poetry.lock" not in note and "third_party" not in note
    assert "Not shown, lockfile: 1 file" in note and "Not shown, vendored: 1 file" in note
    assert "Not shown, generated or minified: pkg/api_pb2.py" in note
    assert "(token budget), " in note and " more" in note and "changed lines)" in note
    assert counter.count(note) < 600 and packed.included  # the names no longer crowd out the source
    person = " ".join(left_out_note(packed))
    assert "`poetry.lock` (lockfile)" in person and f"({OVER_BUDGET})" in person and "1 vendored file" in person
    assert "Deleted files (names only, 2,540, 2,500 of them vendored or lockfiles): `src/old_0.py`" in person
    assert "vendor/pkg" not in person and "(cut short by the token budget: " in person


def test_deletion_only_hunks_go_in_when_they_fit() -> None:
    patch = "@@ -1,3 +1,3 @@\n a\n-b\n+B\n@@ -20,4 +20,0 @@\n-gone1\n-gone2\n-gone3\n-gone4"
    packed = pack_diff([FileData("pkg/x.py", "modified", 1, 5, patch)], 10_000, len, "Python")
    assert "-gone4\n" in packed.text and packed.shown_changed == {"pkg/x.py": 6}


def test_skip_rules_name_what_a_file_is() -> None:
    assert skip_reason(FileData("pkg/new.py", "renamed", 0, 0, None, "pkg/old.py")) == RENAMED
    assert skip_reason(FileData("pkg/__init__.py", "added", 0, 0, None)) == EMPTY
    assert skip_reason(FileData("run.sh", "modified", 0, 0, None)) == MODE_ONLY
    assert skip_reason(FileData("data/huge.csv", "modified", 90_000, 0, None)) == BINARY
    for header in ("// Code generated by protoc-gen-go. DO NOT EDIT.", "# @generated by tool", "/* DO NOT EDIT */"):
        assert skip_reason(FileData("api/x.go", "added", 2, 0, f"@@ -0,0 +1,2 @@\n+{header}\n+package x")) == GENERATED
    late = "@@ -40,1 +40,2 @@\n x\n+# DO NOT EDIT below this line by hand"
    assert skip_reason(FileData("pkg/conf.py", "modified", 1, 0, late)) is None  # not in the file's header
    source = "@@ -1 +1 @@\n-a\n+b"
    assert skip_reason(FileData("src/pip/_internal/operations/build/wheel.py", "modified", 1, 1, source)) is None
    assert skip_reason(FileData("dist/bundle.css", "modified", 1, 1, source)) == GENERATED


# --- the call budget -------------------------------------------------------------------------------------------


def test_a_review_call_fills_its_budget_and_never_exceeds_it() -> None:
    files = _random_pull([(f"pkg/m{i}", ".py", [(40, 5, 30), (25, 3, 20)]) for i in range(80)])
    header = "Pull request acme/widgets#7: Refactor\nDescription: moves things\n"
    for model in ("gpt-4", "gpt-4o-mini", "some-local-model"):  # exact; padded estimates (×1.10, ×1.25)
        counter = TokenCounter(model)
        for budget in (4_000, 24_000, 32_000):
            packed = pack_for_call(files, header, "Python", counter, budget)
            used = call_tokens(counter, review_messages(header, packed), review_response_format())
            assert used <= budget and packed.cut  # the budget is what limits this diff
            if budget >= 24_000:  # at small budgets the reserve for the note's worst case is a larger share
                assert budget - used <= 0.02 * budget, (model, budget, used)
    assert TokenCounter("gpt-4").exact and not TokenCounter("some-local-model").exact


def test_when_nothing_can_be_sent_the_person_is_told_so_truthfully() -> None:
    files = [FileData("pkg/one_line.py", "added", 1, 0, "@@ -0,0 +1 @@\n+" + "x = 1; " * 3_000)]
    counter = TokenCounter("gpt-4")
    packed = pack_for_call(files, "Pull request a/b#1: t\n", "Python", counter, 2_000)
    assert packed.included == [] and packed.left_out == [("pkg/one_line.py", OVER_BUDGET)]
    review = heuristic_review(files, packed, why=nothing_sent(packed, 2_000))
    assert review.summary.startswith("Not reviewed by the model: no file fitted the review call budget")
    assert "no model configured" not in review.summary
    lockfile_only = pack_diff([FileData("uv.lock", "modified", 1, 1, "@@ -1 +1 @@\n-a\n+b")], 5_000, len, None)
    assert "nothing in this pull request can be reviewed" in nothing_sent(lockfile_only, 5_000)
    assert heuristic_review(files, packed).summary.startswith(NO_MODEL)
