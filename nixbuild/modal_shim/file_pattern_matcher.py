"""``modal.file_pattern_matcher``: the module path some apps import the matcher from."""

from nixbuild.api.ignore import NON_PYTHON_FILES, FilePatternMatcher

__all__ = ["NON_PYTHON_FILES", "FilePatternMatcher"]
