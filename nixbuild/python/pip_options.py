"""A pip step's ``extra_options``, read the way nixbuild can honour them.

Modal appends ``extra_options`` raw to ``pip install`` / ``uv pip install``. nixbuild resolves
at lock time and installs pinned files, so an option either changes what is resolved (passed
to ``uv pip compile`` as it is), says something nixbuild always does or that has no meaning
for a pinned install (dropped), or cannot be honoured (refused, naming it).
"""

from __future__ import annotations

import shlex

from nixbuild.errors import InvalidError

# Options that change the resolution, with the number of values each takes.
RESOLVER = {"--no-deps": 0, "--pre": 0, "--only-binary": 1, "--no-binary": 1, "--prerelease": 1,
            "--index-strategy": 1, "--resolution": 1, "--index-url": 1, "-i": 1, "--extra-index-url": 1,
            "--find-links": 1, "-f": 1, "--no-index": 0}
# Options with nothing to do: the install is fresh, byte-compiled, system-wide and offline.
DROPPED = {"--upgrade": 0, "-U": 0, "--no-cache-dir": 0, "--no-cache": 0, "--compile": 0, "--compile-bytecode": 0,
           "--quiet": 0, "-q": 0, "--verbose": 0, "-v": 0, "--no-warn-script-location": 0, "--system": 0,
           "--disable-pip-version-check": 0, "--break-system-packages": 0, "--root-user-action": 1,
           "--progress-bar": 1, "--force-reinstall": 0, "--ignore-installed": 0, "--no-input": 0}
# uv spells some of pip's options differently.
UV_SPELLING = {"--pre": ["--prerelease", "allow"], "-i": ["--index-url"], "-f": ["--find-links"]}


def resolver_options(extra_options: str) -> list[str]:
    """The ``uv pip compile`` arguments ``extra_options`` asks for; InvalidError for an
    option nixbuild cannot honour."""
    try:
        words = shlex.split(extra_options)
    except ValueError as exc:
        raise InvalidError(f"cannot read extra_options {extra_options!r}: {exc}",
                           fix="quote the options as a shell would") from None
    out, position = [], 0
    while position < len(words):
        word = words[position]
        name, has_value, value = word.partition("=")
        table = RESOLVER if name in RESOLVER else DROPPED if name in DROPPED else None
        if table is None:
            accepted = ", ".join(sorted(RESOLVER)) + "; ignored as they change nothing here: " \
                + ", ".join(sorted(DROPPED))
            raise InvalidError(f"extra_options {word!r} cannot be honoured by a pinned, offline install",
                               fix=f"drop it; accepted options: {accepted}")
        arity = table[name]
        if has_value and arity == 0:
            raise InvalidError(f"extra_options {word!r}: {name} takes no value", fix=f"write {name} alone")
        values = [value] if has_value else words[position + 1:position + 1 + arity]
        if len(values) < arity:
            raise InvalidError(f"extra_options: {name} needs a value", fix=f"write {name} VALUE")
        position += 1 + (0 if has_value else arity)
        if table is RESOLVER:
            out += UV_SPELLING.get(name, [name]) + values
    return out
