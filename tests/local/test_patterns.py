"""dockerignore matching as Modal's FilePatternMatcher (moby/patternmatcher) does it."""

from pathlib import Path

import pytest

from nixbuild.api.ignore import AUTO_DOCKERIGNORE, NON_PYTHON_FILES, FilePatternMatcher, to_ignore_spec
from nixbuild.errors import InvalidError
from nixbuild.local.patterns import PatternMatcher, ignore_predicate


def ignored(patterns, paths, inverted=False):
    matcher = PatternMatcher(patterns, inverted=inverted)
    return {p for p in paths if matcher.matches(p)}


def test_star_matches_one_segment_so_top_level_only():
    paths = ["a.json", "d/a.json", "d/e/a.json", "x.json/inner.txt", "a.jsonl"]
    # "x.json/inner.txt" is ignored because its parent directory matches.
    assert ignored(["*.json"], paths) == {"a.json", "x.json/inner.txt"}


def test_double_star_spans_any_number_of_segments_including_none():
    paths = ["a.py", "d/a.py", "d/e/a.py", "a.pyc", "d/a.pyc"]
    assert ignored(["**/*.py"], paths) == {"a.py", "d/a.py", "d/e/a.py"}
    assert ignored(["a/**/b"], ["a/b", "a/x/b", "a/x/y/b", "a/x/c", "b"]) == {"a/b", "a/x/b", "a/x/y/b"}
    assert ignored(["**"], ["a", "b/c"]) == {"a", "b/c"}
    # A trailing "**" matches what is below the directory, not the directory itself.
    assert ignored(["foo/**"], ["foo", "foo/a", "foo/a/b", "foobar"]) == {"foo/a", "foo/a/b"}
    assert ignored(["**.log"], ["a.log", "d/b.log", "a.logs"]) == {"a.log", "d/b.log"}


def test_question_mark_classes_and_escapes():
    assert ignored(["a?c"], ["abc", "a/c", "ac", "abbc"]) == {"abc"}
    assert ignored(["[ab].txt"], ["a.txt", "b.txt", "c.txt"]) == {"a.txt", "b.txt"}
    assert ignored(["[a-c]*"], ["apple", "cat", "dog"]) == {"apple", "cat"}
    assert ignored(["\\*.txt"], ["*.txt", "a.txt"]) == {"*.txt"}
    # Regex metacharacters that mean nothing to a glob are literal.
    assert ignored(["(x)+*.txt"], ["(x)+1.txt", "xx1.txt"]) == {"(x)+1.txt"}


def test_a_path_is_ignored_when_any_parent_matches():
    paths = ["node_modules/a/b.js", "src/node_modules/c.js", "src/main.js"]
    assert ignored(["node_modules"], paths) == {"node_modules/a/b.js"}
    assert ignored(["**/node_modules"], paths) == {"node_modules/a/b.js", "src/node_modules/c.js"}


def test_last_match_wins_and_exclusion_unignores():
    paths = ["README.md", "CHANGES.md", "a.py"]
    assert ignored(["*.md", "!README.md"], paths) == {"CHANGES.md"}
    assert ignored(["!README.md", "*.md"], paths) == {"README.md", "CHANGES.md"}
    assert ignored(["build", "!build/keep.txt"], ["build/keep.txt", "build/other"]) == {"build/other"}


def test_patterns_are_cleaned_like_modal():
    # Stripped, leading and trailing "/" removed, normpath'd; blank ones dropped.
    assert ignored(["  /foo/  ", "", "   ", "x/../bar"], ["foo", "foo/a", "bar", "x"]) == {"foo", "foo/a", "bar"}
    assert ignored(["./a/./b"], ["a/b", "a"]) == {"a/b"}
    with pytest.raises(ValueError, match='Illegal exclusion pattern: "!"'):
        PatternMatcher(["*.py", " ! "])


def test_the_root_itself_is_never_ignored():
    assert not PatternMatcher(["**"]).matches(".")
    assert not PatternMatcher(["*"]).matches("")


def test_inverted_non_python_files_keeps_py_files_in_dot_dirs():
    keep = ignore_predicate(NON_PYTHON_FILES, base_dir=Path("/nonexistent"))
    assert not keep("a.py")
    assert not keep("pkg/sub/m.py")
    assert not keep(".hidden/h.py")
    assert keep("data.txt")
    assert keep("pkg/__pycache__/m.cpython-311.pyc")


def test_can_prune_dir_only_when_nothing_below_can_be_reincluded():
    assert PatternMatcher(["node_modules"]).can_prune_dir("node_modules")
    assert PatternMatcher(["**/.venv"]).can_prune_dir("a/.venv")
    assert not PatternMatcher(["node_modules"]).can_prune_dir("src")
    # An exclusion elsewhere does not stop pruning; one that reaches inside does.
    assert PatternMatcher(["build", "!src/keep.txt"]).can_prune_dir("build")
    assert PatternMatcher(["build", "!build"]).can_prune_dir("build") is False  # not ignored at all
    assert not PatternMatcher(["build", "!build/keep.txt"]).can_prune_dir("build")
    assert not PatternMatcher(["build", "!b*/*.txt"]).can_prune_dir("build")
    assert PatternMatcher(["build", "!c*/*.txt"]).can_prune_dir("build")
    assert not PatternMatcher(["build", "!**/keep.txt"]).can_prune_dir("build")
    # Inverted matchers keep what matches, which a directory name does not tell.
    assert not PatternMatcher(["**/*.py"], inverted=True).can_prune_dir("data")


def test_from_file_reads_relative_to_base_dir(tmp_path):
    (tmp_path / "ignore.txt").write_text("# a comment\n*.log\n\n!keep.log\n")
    predicate = ignore_predicate(FilePatternMatcher.from_file("ignore.txt"), base_dir=tmp_path)
    assert predicate("a.log") and not predicate("keep.log") and not predicate("a.txt")
    inverted = ignore_predicate(~FilePatternMatcher.from_file("ignore.txt"), base_dir=tmp_path)
    assert not inverted("a.log") and inverted("a.txt")
    with pytest.raises(InvalidError, match="missing.txt"):
        ignore_predicate(FilePatternMatcher.from_file("missing.txt"), base_dir=tmp_path)


def test_auto_dockerignore_reads_base_dir_dockerignore(tmp_path):
    assert not ignore_predicate(AUTO_DOCKERIGNORE, base_dir=tmp_path)("a.pyc")
    (tmp_path / ".dockerignore").write_text("*.pyc\n")
    assert ignore_predicate(AUTO_DOCKERIGNORE, base_dir=tmp_path)("a.pyc")


def test_callable_receives_a_relative_path(tmp_path):
    seen = []

    def skip_logs(path):
        seen.append(path)
        return path.suffix == ".log"

    predicate = ignore_predicate(to_ignore_spec(skip_logs), base_dir=tmp_path)
    assert predicate("d/a.log") and not predicate("a.txt")
    assert seen == [Path("d/a.log"), Path("a.txt")]
