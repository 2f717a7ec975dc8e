"""``dockerfile_commands`` as the step models the builder already knows.

Modal sends a ``dockerfile_commands`` step to its builder as Dockerfile lines (``FROM base``
then the lines, verbatim), with a build context made of the ``COPY`` sources under
``context_dir`` (semantics §5 and §6). nixbuild has no Dockerfile engine, so
:func:`translate` reads the lines the way Docker (BuildKit) does and turns each instruction
into the equivalent step:

=========================  ================================================================
``RUN``                    :class:`RunCommands` (one each), with the step's ``env``,
                           ``secrets``, ``gpu`` and ``force_build``; the ``ARG`` values in
                           scope are passed in ``env``, as Docker exposes them to ``RUN``
``ENV``                    :class:`Env`
``WORKDIR``                :class:`Workdir`
``ENTRYPOINT/CMD/SHELL``   :class:`Entrypoint` / :class:`Cmd` / :class:`Shell`
``COPY``/``ADD`` (local)   :class:`AddLocalFile` / :class:`AddLocalDir` with ``copy=True``
``COPY --from=X``          :class:`CopyFrom`: paths of stage ``X`` (or of the image ``X``),
                           copied as root with their modes, as Docker does
``ARG``                    no step: its value is substituted into later instructions
``LABEL/EXPOSE/VOLUME``    :class:`ImageMetadata`: the OCI config's Labels, ExposedPorts,
``STOPSIGNAL/USER``        Volumes, StopSignal, User (build steps after a non-root USER are
                           refused: nixbuild runs them as root only)
``HEALTHCHECK/ONBUILD``    nothing, with a warning (no OCI config key)
``MAINTAINER``
=========================  ================================================================

Instructions are split with the maintained ``dockerfile-parse`` library, which joins
continuation lines as Docker does (a ``\\`` may be followed by blanks, comment lines inside an
instruction are dropped). Variable substitution (``$VAR``, ``${VAR}``, ``${VAR:-word}``,
``${VAR:+word}``, quotes and escapes) is a port of BuildKit's shell lexer, since the library's
own replacement is not Docker's; like Docker it applies to ``ENV``, ``ARG``, ``WORKDIR``,
``COPY`` and ``ADD``, never to ``RUN``/``CMD``/``ENTRYPOINT`` (their shell does that at run
time, from the environment).

Every error names ``where`` and the Dockerfile line (1-based, counted over the joined lines).

``from_dockerfile`` (:func:`from_dockerfile`) is a file of stages, one per ``FROM``: the
``ARG`` lines before the first (defaults, overridden by ``build_args``) are substituted into
every ``FROM``; a stage's image becomes its base step (``from_registry`` with the step's
``registry_secret``, ``from_scratch``, or the steps of the earlier stage it names), and its
lines a ``dockerfile_commands`` step with the step's context, ignore rules, build args,
secrets, env and gpu. A stage's ``ARG NAME`` without a default takes the global value, as in
Docker. The last stage is the image (``add_python`` applies to it); an earlier one is built
only when a ``COPY --from`` names it (nixbuild/expand.py).
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser

from nixbuild.api.ignore import AutoDockerignore, CallableIgnore, FilePatternMatcher
from nixbuild.api.steps import (
    AddLocalDir,
    AddLocalFile,
    Cmd,
    CopyFrom,
    DockerfileCommands,
    Entrypoint,
    Env,
    FromDockerfile,
    FromRegistry,
    FromScratch,
    ImageMetadata,
    RunCommands,
    Shell,
    Step,
    Workdir,
)
from nixbuild.errors import InvalidError
from nixbuild.warn import warn
from nixbuild.local.context import is_private, link_outside, real_relative
from nixbuild.local.patterns import ignore_predicate, pattern_matcher, read_ignore_file

DEFAULT_SHELL = ("/bin/sh", "-c")

# Instructions whose metadata nixbuild's image config does not carry (health check, build
# triggers, author): they change nothing in the filesystem, so they are dropped with a warning.
# LABEL, EXPOSE, VOLUME, STOPSIGNAL and USER become an ImageMetadata step (the OCI config).
IGNORED_INSTRUCTIONS = frozenset({"HEALTHCHECK", "ONBUILD", "MAINTAINER"})
_IGNORED_WHY = {
    "HEALTHCHECK": "the OCI image config has no health check (it is a Docker-format extension)",
    "ONBUILD": "build triggers only act in a later Docker build FROM this image",
    "MAINTAINER": "it is deprecated; use LABEL maintainer=... instead",
}
_EXPOSE_PORT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(tcp|udp|sctp))?$")

# COPY/ADD flags with no effect nixbuild can express; Modal strips them too when it collects the
# COPY sources. (``--chmod``/``--chown`` do change the file in Docker: nixbuild keeps the
# local permission bits and root ownership.)
_STRIPPED_COPY_FLAGS = ("--chmod", "--chown", "--link")

# First bytes of the archives ``ADD`` would unpack (gzip, bzip2, xz, zstd); tar is checked at 257.
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")

_GLOB_CHARS = frozenset("*?[")


def translate(
    step: DockerfileCommands,
    *,
    cwd: Path,
    where: str,
    workdir: str = "/",
    image_env: Mapping[str, str] | None = None,
    shell: Sequence[str] = DEFAULT_SHELL,
) -> list[Step]:
    """The steps equivalent to ``step``'s Dockerfile lines, in order.

    ``cwd`` is the build's working directory: ``context_dir`` (default: ``cwd``) and the local
    paths of ``context_files`` are resolved against it, as Modal does at build time. The
    optional ``workdir``, ``image_env`` and ``shell`` describe the image before this step (its
    ``WORKDIR``, ``ENV`` and ``SHELL``; Docker's defaults when not given): a relative ``COPY``
    destination is relative to the working directory, ``ENV`` values are visible to variable
    substitution, and a shell-form ``CMD``/``ENTRYPOINT`` runs through the shell.
    """
    return _Translator(step, cwd=cwd, where=where, workdir=workdir, image_env=image_env or {}, shell=shell).run()


@dataclass
class Stage:
    """One ``FROM`` of a Dockerfile: its name (``AS name``, else None), its position, and its
    steps (its base, or the steps of the earlier stage it starts from, then its lines)."""

    name: str | None
    index: int
    steps: list[Step]


def from_dockerfile(step: FromDockerfile, *, cwd: Path, where: str) -> list[Stage]:
    """The stages of a ``from_dockerfile`` step's file, the image's own last (see the module
    docstring); the file is read now, relative to ``cwd``, as Modal reads it at build time."""
    path = cwd / step.path
    try:
        content = path.read_text("utf-8")
    except OSError as exc:
        raise InvalidError(f"cannot read the Dockerfile {path}: {exc.strerror or exc}", where=where,
                           fix="pass the path of an existing Dockerfile (relative to the directory you build from)")
    instructions = _instructions(content)
    lines = content.split("\n")
    froms = [item for item in instructions if item["instruction"] == "FROM"]
    if not froms:
        raise InvalidError(f"{step.path} has no FROM line", where=where, fix="start the Dockerfile with FROM <image>")
    if len(froms) > 1 and step.registry_secret is not None:  # Modal's own refusal
        raise InvalidError("`registry_secret` is not supported with multi-stage Dockerfiles.", where=where)
    global_args = _global_args(step, instructions, froms[0], f"{where}, Dockerfile line {froms[0]['startline'] + 1}")
    stages: list[Stage] = []
    for number, item in enumerate(froms):
        here = f"{where}, Dockerfile line {item['startline'] + 1}: {lines[item['startline']].strip()}"
        image, name = _from_line(item["value"], global_args, here)
        earlier = next((s for s in stages if s.name is not None and s.name == image.lower()), None)
        if earlier is not None:
            base = list(earlier.steps)
            if number == len(froms) - 1 and step.add_python and isinstance(base[0], FromRegistry):
                # The image's stage starts from an earlier one: add_python still reaches its base.
                base[0] = base[0].model_copy(update={"add_python": step.add_python})
        elif image == "scratch":
            if step.add_python:
                raise InvalidError("add_python on FROM scratch: the standalone Python needs a C library", where=here,
                                   fix="start from an image with glibc (Debian, Ubuntu, ...)")
            base = [FromScratch(force_build=step.force_build)]
        else:
            # add_python is the last stage's (Modal adds it to the image); the login is the one FROM's.
            last = number == len(froms) - 1
            base = [FromRegistry(tag=image, registry_secret=step.registry_secret,
                                 registry_auth="static" if step.registry_secret is not None else None,
                                 add_python=step.add_python if last else None, force_build=step.force_build)]
        end = froms[number + 1]["startline"] if number + 1 < len(froms) else len(lines)
        body = [i for i in instructions if item["endline"] < i["startline"] < end]
        if body:
            # The lines outside the stage stay as blank lines: errors count lines as the file does.
            rest = "\n".join("" if not item["endline"] < n < end else line for n, line in enumerate(lines))
            # A stage's `ARG NAME` with no default takes the global one (Docker's rule).
            stage_args = {**{k: v for k, v in global_args.items()
                             if any(i["instruction"] == "ARG" and i["value"].strip() == k for i in body)},
                          **step.build_args}
            base.append(DockerfileCommands(commands=(rest,), context_dir=step.context_dir, ignore=step.ignore,
                                           build_args=stage_args, secrets=step.secrets, env=step.env, gpu=step.gpu,
                                           force_build=step.force_build))
        stages.append(Stage(name=name, index=number, steps=base))
    return stages


def _global_args(step: FromDockerfile, instructions: list[dict[str, Any]], first: dict[str, Any],
                 where: str) -> dict[str, str]:
    """The ARGs before the first FROM, with their values (``build_args`` first)."""
    values: dict[str, str] = {}
    for item in instructions:
        if item["startline"] >= first["startline"]:
            break
        if item["instruction"] != "ARG":
            raise InvalidError(f"{item['instruction']} before FROM", where=where, fix="only ARG lines may come before FROM")
        for word in _split_words(item["value"]):
            name, sep, default = word.partition("=")
            value = step.build_args.get(name, _word(default, values, where) if sep else None)
            if value is not None:
                values[name] = value
    return values


def _from_line(value: str, args: Mapping[str, str], where: str) -> tuple[str, str | None]:
    """(image, stage name) of a FROM line's value."""
    words = [_word(word, args, where) for word in _split_words(value)]
    platform = [w for w in words if w.startswith("--platform=")]
    words = [w for w in words if not w.startswith("--")]
    if platform and platform[0].split("=", 1)[1] not in ("linux/amd64", "linux/x86_64"):
        raise InvalidError(f"FROM {platform[0]}: nixbuild builds linux/amd64 images only", where=where,
                           fix="drop --platform, or use linux/amd64")
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise InvalidError("FROM takes an image, optionally `AS name`", where=where, fix="write FROM <image> [AS <name>]")
    return words[0], (words[2].lower() if len(words) == 3 else None)


def _word(text: str, args: Mapping[str, str], where: str) -> str:
    try:
        return _Lexer(text, args).word()
    except _LexError as exc:
        raise InvalidError(str(exc), where=where, fix="close the quote or fix the ${...} substitution") from exc


# ---------------------------------------------------------------------------------------------
# Splitting into instructions


def _instructions(content: str) -> list[dict[str, Any]]:
    """dockerfile-parse's instruction list (comments dropped), continuation lines joined."""
    parser = DockerfileParser(fileobj=io.BytesIO(content.encode("utf-8")))
    return [item for item in parser.structure if item["instruction"] != "COMMENT"]


def _uncovered_lines(content: str, instructions: list[dict[str, Any]]) -> list[int]:
    """0-based numbers of non-blank, non-comment lines no instruction covers.

    dockerfile-parse silently skips a line that is a bare word (``RUN`` with no arguments);
    Docker rejects it.
    """
    covered: set[int] = set()
    for item in instructions:
        covered.update(range(item["startline"], item["endline"] + 1))
    out = []
    for number, line in enumerate(content.split("\n")):
        text = line.strip()
        if text and not text.startswith("#") and number not in covered:
            out.append(number)
    return out


# ---------------------------------------------------------------------------------------------
# Docker's word rules (a port of BuildKit's frontend/dockerfile/shell/lex.go and parseWords)


class _LexError(ValueError):
    pass


_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class _Lexer:
    """Processes one Docker word: quotes removed, escapes applied, variables expanded.

    ``env`` is ``None`` to leave ``$`` alone (quotes and escapes are still processed).
    """

    def __init__(self, text: str, env: Mapping[str, str] | None):
        self.text = text
        self.pos = 0
        self.env = env

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        ch = self._peek()
        if ch:
            self.pos += 1
        return ch

    def word(self) -> str:
        return self._process(stop="")

    def _process(self, stop: str) -> str:
        """The processed text up to ``stop`` (consumed) or the end."""
        result: list[str] = []
        while self.pos < len(self.text):
            ch = self._peek()
            if stop and ch == stop:
                self._next()
                return "".join(result)
            if ch == "$":
                result.append(self._dollar())
            elif ch == "'":
                result.append(self._single_quote())
            elif ch == '"':
                result.append(self._double_quote())
            else:
                ch = self._next()
                if ch == "\\":
                    ch = self._next()
                    if not ch:
                        break  # a backslash at the end is dropped
                result.append(ch)
        if stop:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result)

    def _single_quote(self) -> str:
        self._next()
        out = []
        while True:
            ch = self._next()
            if not ch:
                raise _LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def _double_quote(self) -> str:
        self._next()
        out = []
        while True:
            ch = self._peek()
            if not ch:
                raise _LexError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self._next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = self._next()
            if ch == "\\":
                following = self._peek()
                if not following:
                    continue
                if following in '"$\\':
                    ch = self._next()  # these can be escaped; other backslashes stay
                else:
                    out.append("\\")
                    continue
            out.append(ch)

    def _name(self) -> str:
        ch = self._peek()
        if ch.isdigit():
            start = self.pos
            while self._peek().isdigit():
                self._next()
            return self.text[start : self.pos]
        if ch and ch in _SPECIAL_PARAMS:
            return self._next()
        start = self.pos
        while (c := self._peek()) and (c.isalnum() or c == "_"):
            self._next()
        return self.text[start : self.pos]

    def _lookup(self, name: str) -> str | None:
        assert self.env is not None
        return self.env.get(name)

    def _dollar(self) -> str:
        start = self.pos
        self._next()  # "$"
        if self.env is None:
            # Not expanding: keep the reference as written (through its closing brace).
            if self._peek() == "{":
                depth = 0
                while ch := self._next():
                    depth += ch == "{"
                    depth -= ch == "}"
                    if depth == 0:
                        break
            else:
                self._name()
            return self.text[start : self.pos]
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            return self._lookup(name) or ""
        self._next()  # "{"
        ch = self._peek()
        if not ch:
            raise _LexError("syntax error: missing '}'")
        if ch in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self._name()
        value = self._lookup(name)
        ch = self._next()
        if ch == "}":
            return value or ""
        if ch == ":":
            modifier = self._next()
            word = self._process(stop="}")
            if modifier == "-":
                return value if value else word
            if modifier == "+":
                return word if value else ""
            if modifier == "?":
                if not value:
                    raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            raise _LexError(f"unsupported modifier ({modifier}) in substitution")
        if ch in "-+?":
            word = self._process(stop="}")
            if ch == "-":
                return word if value is None else value
            if ch == "+":
                return "" if value is None else word
            if value is None:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        if not ch:
            raise _LexError("syntax error: missing '}'")
        raise _LexError(f"unsupported modifier ({ch}) in substitution")


def _split_words(rest: str) -> list[str]:
    """BuildKit's ``parseWords``: split on blanks outside quotes, keeping quotes and escapes
    in the words (they are removed when each word is processed)."""
    words: list[str] = []
    word = ""
    in_word = False
    quote = ""
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                word += ch
                i += 1
                ch = rest[i]
            word += ch
            i += 1
            continue
        if ch.isspace():
            if in_word:
                words.append(word)
                word, in_word = "", False
            i += 1
            continue
        in_word = True
        if ch in "'\"":
            quote = ch
        elif ch == "\\":
            if i + 1 == n:
                i += 1
                continue
            word += ch
            i += 1
            ch = rest[i]
        word += ch
        i += 1
    if in_word:
        words.append(word)
    return words


def _json_list(text: str) -> list[str] | None:
    """The exec (JSON array of strings) form, or ``None`` when ``text`` is not one (Docker then
    reads it as the shell form)."""
    if not text.lstrip().startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


# ---------------------------------------------------------------------------------------------
# The translation


class _Translator:
    def __init__(self, step: DockerfileCommands, *, cwd: Path, where: str, workdir: str,
                 image_env: Mapping[str, str], shell: Sequence[str]):
        self.step = step
        self.cwd = cwd
        self.where = where
        self.context = cwd / step.context_dir if step.context_dir is not None else cwd
        self.context_files = {_context_key(name): local for name, local in step.context_files.items()}
        self.workdir = posixpath.normpath(posixpath.join("/", workdir))
        self.env: dict[str, str] = dict(image_env)  # ENV values: the image's, then this step's
        self.args: dict[str, str] = {}  # ARGs in scope that have a value
        self.shell = tuple(shell)
        self._context_ignored: Callable[[str], bool] | None = None
        self.line = ""  # where the instruction being translated is, for errors

    # --- errors

    def error(self, message: str, fix: str) -> InvalidError:
        return InvalidError(message, where=f"{self.where}, {self.line}", fix=fix)

    # --- driver

    def run(self) -> list[Step]:
        content = "\n".join(self.step.commands)
        instructions = _instructions(content)
        lines = content.split("\n")
        for number in _uncovered_lines(content, instructions):
            self.line = f"Dockerfile line {number + 1}: {lines[number].strip()}"
            raise self.error("instruction has no arguments",
                             fix="give the instruction its arguments, or remove the line")
        out: list[Step] = []
        for item in instructions:
            number = item["startline"]
            self.line = f"Dockerfile line {number + 1}: {lines[number].strip()}"
            out.extend(self.instruction(item["instruction"], item["value"]))
        return out

    def instruction(self, name: str, value: str) -> list[Step]:
        if name in IGNORED_INSTRUCTIONS:
            warn(f"{self.where}, {self.line}: {name} is ignored: {_IGNORED_WHY[name]}")
            return []
        handler = getattr(self, f"_do_{name.lower()}", None)
        if handler is None:
            raise self.error(f"unknown instruction: {name}",
                             fix="use RUN, ENV, ARG, WORKDIR, COPY, ADD, ENTRYPOINT, CMD, SHELL, USER, LABEL, "
                                 "EXPOSE, VOLUME or STOPSIGNAL")
        return handler(value)

    # --- substitution

    def _scope(self) -> dict[str, str]:
        """What ``$VAR`` sees: ARGs in scope, overridden by ENV (Docker's rule)."""
        return {**self.args, **self.env}

    def expand(self, word: str) -> str:
        try:
            return _Lexer(word, self._scope()).word()
        except _LexError as exc:
            raise self.error(str(exc), fix="close the quote or fix the ${...} substitution") from exc

    def unquote(self, word: str) -> str:
        try:
            return _Lexer(word, None).word()
        except _LexError as exc:
            raise self.error(str(exc), fix="close the quote") from exc

    # --- instructions

    def _do_from(self, value: str) -> list[Step]:
        raise self.error("FROM is not allowed in dockerfile_commands",
                         fix="start the image with Image.from_registry()/from_dockerfile() instead of a FROM line")

    def _do_user(self, value: str) -> list[Step]:
        words = [self.expand(word) for word in _split_words(value)]
        if len(words) != 1 or not words[0]:
            raise self.error("USER requires exactly one argument", fix="write USER name[:group]")
        # The config's User; build steps after a non-root USER are refused (chain.require_supported).
        return [ImageMetadata(user=words[0])]

    def _do_label(self, value: str) -> list[Step]:
        words = _split_words(value)
        if not words:
            raise self.error("LABEL requires at least one argument", fix="write LABEL key=value")
        if "=" not in words[0]:  # legacy ``LABEL key value with spaces``
            parts = value.strip().split(None, 1)
            if len(parts) < 2:
                raise self.error("LABEL must have two arguments", fix="write LABEL key=value")
            return [ImageMetadata(labels={self.expand(parts[0]): self.expand(parts[1])})]
        labels: dict[str, str] = {}
        for word in words:
            key, sep, raw = word.partition("=")
            if not sep:
                raise self.error(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value",
                                 fix="write every pair as key=value (quote values with spaces)")
            key = self.expand(key)
            if not key:
                raise self.error("LABEL names can not be blank", fix="write LABEL key=value")
            labels[key] = self.expand(raw)
        return [ImageMetadata(labels=labels)]

    def _do_expose(self, value: str) -> list[Step]:
        ports: list[str] = []
        for word in _split_words(value):
            spec = self.expand(word).lower()
            match = _EXPOSE_PORT.match(spec)
            first, last = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, -1)
            if not match or not 0 < first <= last <= 65535:
                raise self.error(f"EXPOSE: invalid port {spec!r}",
                                 fix="write EXPOSE PORT[/tcp|udp|sctp] (or a range FIRST-LAST), e.g. EXPOSE 80/tcp")
            ports += [f"{port}/{match.group(3) or 'tcp'}" for port in range(first, last + 1)]
        if not ports:
            raise self.error("EXPOSE requires at least one argument", fix="write EXPOSE 80/tcp")
        return [ImageMetadata(exposed_ports=tuple(ports))]

    def _do_volume(self, value: str) -> list[Step]:
        argv = _json_list(value.strip())
        paths = argv if argv is not None else [self.expand(word) for word in _split_words(value)]
        if not paths or not all(paths):
            raise self.error("VOLUME specified can not be an empty string",
                             fix='write VOLUME /data or VOLUME ["/data"]')
        return [ImageMetadata(volumes=tuple(paths))]

    def _do_stopsignal(self, value: str) -> list[Step]:
        words = [self.expand(word) for word in _split_words(value)]
        if len(words) != 1 or not words[0]:
            raise self.error("STOPSIGNAL requires exactly one argument", fix="write STOPSIGNAL SIGTERM")
        return [ImageMetadata(stop_signal=words[0])]

    def _do_arg(self, value: str) -> list[Step]:
        words = _split_words(value)
        if not words:
            raise self.error("ARG requires at least one argument", fix="write ARG NAME or ARG NAME=default")
        for word in words:
            name, sep, default = word.partition("=")
            name = self.unquote(name) if sep else self.unquote(word)
            if not name:
                raise self.error("ARG names can not be blank", fix="write ARG NAME or ARG NAME=default")
            if name in self.step.build_args:
                self.args[name] = self.step.build_args[name]
            elif sep:
                self.args[name] = self.expand(default)
            else:
                self.args.pop(name, None)  # declared but unset: "$NAME" is empty
        return []

    def _do_env(self, value: str) -> list[Step]:
        words = _split_words(value)
        if not words:
            raise self.error("ENV requires at least one argument", fix="write ENV NAME=value")
        pairs: list[tuple[str, str]] = []
        if "=" not in words[0]:
            # Legacy ``ENV NAME value with spaces``: the value is the rest of the line.
            parts = value.strip().split(None, 1)
            if len(parts) < 2:
                raise self.error("ENV must have two arguments", fix="write ENV NAME=value")
            pairs.append((parts[0], parts[1]))
        else:
            for word in words:
                name, sep, raw = word.partition("=")
                if not sep:
                    raise self.error(
                        f"Syntax error - can't find = in {word!r}. Must be of the form: name=value",
                        fix="write every pair as NAME=value (quote values with spaces)")
                pairs.append((name, raw))
        # All pairs are expanded against the environment from before this instruction.
        scope = self._scope()
        values: dict[str, str] = {}
        for name, raw in pairs:
            try:
                key = _Lexer(name, scope).word()
                values[key] = _Lexer(raw, scope).word()
            except _LexError as exc:
                raise self.error(str(exc), fix="close the quote or fix the ${...} substitution") from exc
            if not key:
                raise self.error("ENV names can not be blank", fix="write ENV NAME=value")
        self.env.update(values)
        return [Env(vars=values)]

    def _do_workdir(self, value: str) -> list[Step]:
        path = self.expand(value.strip())
        if not path:
            raise self.error("WORKDIR requires exactly one argument", fix="write WORKDIR /path")
        self.workdir = posixpath.normpath(posixpath.join(self.workdir, path))
        return [Workdir(path=path)]

    def _do_run(self, value: str) -> list[Step]:
        text = value.strip()
        if text.startswith("--"):
            flag = text.split(None, 1)[0]
            raise self.error(f"RUN {flag} is not supported by nixbuild",
                             fix="remove the flag (build-time mounts and network modes have no nixbuild equivalent)")
        argv = _json_list(text)
        command = shlex.join(argv) if argv is not None else text
        if not command:
            raise self.error("RUN requires at least one argument", fix="give RUN a command")
        # Docker exposes the ARGs in scope to RUN as environment variables (not persisted); an
        # ENV of the same name wins over an ARG, and the step's env= is set on top.
        env = {k: v for k, v in self.args.items() if k not in self.env}
        env.update(self.step.env)
        return [RunCommands(commands=(command,), env=env, secrets=self.step.secrets, gpu=self.step.gpu,
                            force_build=self.step.force_build)]

    def _exec_or_shell(self, name: str, value: str) -> tuple[str, ...]:
        argv = _json_list(value.strip())
        if argv is not None:
            return tuple(argv)
        return (*self.shell, value.strip())

    def _do_entrypoint(self, value: str) -> list[Step]:
        return [Entrypoint(args=self._exec_or_shell("ENTRYPOINT", value), force_build=self.step.force_build)]

    def _do_cmd(self, value: str) -> list[Step]:
        return [Cmd(args=self._exec_or_shell("CMD", value), force_build=self.step.force_build)]

    def _do_shell(self, value: str) -> list[Step]:
        argv = _json_list(value.strip())
        if not argv:
            raise self.error("SHELL requires the arguments to be in JSON form",
                             fix='write SHELL ["/bin/bash", "-c"]')
        self.shell = tuple(argv)
        return [Shell(args=self.shell, force_build=self.step.force_build)]

    def _do_copy(self, value: str) -> list[Step]:
        return self._copy("COPY", value)

    def _do_add(self, value: str) -> list[Step]:
        return self._copy("ADD", value)

    # --- COPY and ADD

    def _copy(self, name: str, value: str) -> list[Step]:
        rest = value.strip()
        source_from: str | None = None
        while rest.startswith("--"):
            flag, *tail = rest.split(None, 1)
            rest = tail[0] if tail else ""
            if flag.startswith("--from="):
                if name == "ADD":
                    raise self.error("ADD --from is not a Docker instruction", fix="use COPY --from=...")
                source_from = self.expand(flag.split("=", 1)[1])
                continue
            if not flag.startswith(_STRIPPED_COPY_FLAGS):
                raise self.error(f"COPY command: {flag} using special flags/arguments/variables are not supported",
                                 fix=f"remove {flag} from the {name} line")
        argv = _json_list(rest)
        raw = argv if argv is not None else _split_words(rest)
        if len(raw) < 2:
            raise self.error(f"{name} requires at least two arguments, but got {len(raw)}",
                             fix=f"write {name} <source>... <destination>")
        *raw_sources, raw_dest = raw
        if source_from is not None:
            return [self._copy_from(source_from, raw_sources, raw_dest, argv is not None)]
        sources = []
        for word in raw_sources:
            plain = word if argv is not None else self.unquote(word)
            # Modal refuses these when it collects the build context (so no ARG in a source).
            if plain.startswith("--") or plain.startswith("$"):
                raise self.error(f"COPY command: {plain} using special flags/arguments/variables are not supported",
                                 fix="write the source path literally")
            source = self.expand(word)
            if name == "ADD" and ("://" in source or source.startswith("git@")):
                raise self.error(f"ADD of a URL ({source}) is not supported by nixbuild",
                                 fix="download it in a RUN step (curl/wget), or add the file locally and COPY it")
            sources.append(source)
        dest = self.expand(raw_dest)
        dest_abs = posixpath.normpath(posixpath.join(self.workdir, dest))
        dest_abs = "/" + dest_abs.lstrip("/")
        # BuildKit: "." and a trailing "/" name a directory; so do several sources.
        into_dir = dest in ("", ".") or dest.endswith("/") or len(sources) > 1
        items: list[tuple[str, str]] = []  # (context-relative path, "file" | "dir")
        for source in sources:
            matched = self._resolve(name, source)
            if len(matched) > 1:
                into_dir = True
            items.extend(matched)
        out: list[Step] = []
        for rel, kind in items:
            if kind == "file":
                remote = posixpath.join(dest_abs, posixpath.basename(rel)) if into_dir else dest_abs
                out.append(self._file_step(name, rel, remote))
            else:
                out.extend(self._dir_steps(rel, dest_abs))
        return out

    def _copy_from(self, source_from: str, raw_sources: list[str], raw_dest: str, exec_form: bool) -> CopyFrom:
        """``COPY --from``: the paths are the other image's, absolute or relative to its root."""
        sources = []
        for word in raw_sources:
            path = self.expand(word)
            if _GLOB_CHARS & set(path):
                raise self.error(f"COPY --from with a wildcard ({path}) is not supported by nixbuild yet",
                                 fix="name each path to copy")
            sources.append("/" + posixpath.normpath(path).lstrip("/"))
        dest = self.expand(raw_dest)
        dest_abs = "/" + posixpath.normpath(posixpath.join(self.workdir, dest)).lstrip("/")
        into_dir = dest in ("", ".") or dest.endswith("/") or len(sources) > 1
        return CopyFrom(source=source_from, sources=tuple(sources), dest=dest_abs, into_dir=into_dir)

    def _resolve(self, name: str, source: str) -> list[tuple[str, str]]:
        """A COPY source as (context-relative path, kind) items; a wildcard may give several."""
        rel = posixpath.normpath(source.lstrip("/") or ".")
        if rel == ".." or rel.startswith("../"):
            raise self._outside(source)
        if rel in self.context_files:
            return [(rel, "file")]
        path = self.context / rel
        if os.path.lexists(path):
            real = real_relative(path, self.context)
            if real is None:
                raise self._outside(source)
            if is_private(rel) or is_private(real):
                raise self._private(name, source)
            if path.is_dir():
                return [(rel, "dir")]
            if path.is_file():
                if rel != "." and self.context_ignored(rel):
                    raise self.error(f"{name} source {source!r} is excluded by the step's ignore rules (.dockerignore)",
                                     fix="remove it from .dockerignore / ignore=, or stop copying it")
                return [(rel, "file")]
            raise self.error(f"{name} source {source!r} is not a regular file or directory",
                             fix="copy regular files and directories only")
        if self._has_overlay(rel):
            return [(rel, "dir")]  # a directory that exists only through context_files
        if _GLOB_CHARS & set(rel):
            matches = self._glob(rel)
            if not matches:
                raise self.error(f"{name} failed: no source files were specified ({source!r} matches nothing)",
                                 fix=f"check the pattern; it is matched in the build context {self.context}")
            return matches
        raise self.error(f"{name} source {source!r} not found in the build context {str(self.context)!r}",
                         fix="check the path: it is relative to context_dir (default: the directory you build"
                             " from), or add it with context_files=")

    def _private(self, name: str, source: str) -> InvalidError:
        return self.error(f"{name} source {source!r} is in .nixbuild/ (nixbuild's outputs and secrets), which is"
                          " never part of a build context",
                          fix="copy files from outside .nixbuild/; pass secrets with secrets= instead")

    def _outside(self, source: str) -> InvalidError:
        return self.error(f"COPY source {source!r} is outside the build context directory ({str(self.context)!r}).",
                          fix="move the file into the context directory, or pass a context_dir that contains it")

    def _glob(self, pattern: str) -> list[tuple[str, str]]:
        """Docker's wildcard sources (Go's filepath.Match per segment), ignored paths left out."""
        candidates = [""]
        for segment in pattern.split("/"):
            found = []
            for prefix in candidates:
                base = self.context / prefix if prefix else self.context
                if not _GLOB_CHARS & set(segment):
                    if os.path.lexists(base / segment):
                        found.append(f"{prefix}{segment}")
                    continue
                try:
                    names = sorted(os.listdir(base))
                except OSError:
                    continue
                found.extend(f"{prefix}{n}" for n in names if fnmatch.fnmatchcase(n, segment))
            candidates = [f"{c}/" for c in found]
        items: dict[str, str] = {}
        for candidate in candidates:
            rel = candidate.rstrip("/")
            path = self.context / rel
            if is_private(rel) or self.context_ignored(rel):
                continue
            real = real_relative(path, self.context) if path.exists() else rel  # broken links: skipped below
            if real is None:  # a link (or a path through one) out of the context
                raise link_outside(rel, self.context).at(f"{self.where}, {self.line}")
            if is_private(real):
                continue
            if path.is_dir():
                items[rel] = "dir"
            elif path.is_file():
                items[rel] = "file"
        for key in self.context_files:
            if _glob_match(pattern, key):
                items[key] = "file"
        return sorted(items.items())

    def _has_overlay(self, rel: str) -> bool:
        return any(_under(key, rel) for key in self.context_files)

    def _file_step(self, name: str, rel: str, remote: str) -> AddLocalFile:
        if rel in self.context_files:
            local = self.cwd / self.context_files[rel]
            if not local.is_file():
                raise self.error(f"context_files entry {rel!r} points to {str(local)!r}, which is not a file",
                                 fix="fix the local path in context_files (relative to the directory you build from)")
        else:
            local = self.context / rel
            if name == "ADD" and _is_archive(local):
                raise self.error(f"ADD of a local archive ({rel}) is not supported by nixbuild (Docker unpacks it)",
                                 fix="COPY the archive and unpack it in a RUN step")
        return AddLocalFile(local_path=str(local), remote_path=remote, copy=True)

    def _dir_steps(self, rel: str, remote: str) -> list[Step]:
        """A directory's contents into ``remote``; then the context_files below it, which win."""
        out: list[Step] = []
        path = self.context / rel
        if path.is_dir():
            out.append(AddLocalDir(local_path=str(path), remote_path=remote, copy=True, ignore=self._dir_ignore(rel)))
        for key in sorted(k for k in self.context_files if _under(k, rel)):
            inner = key if rel == "." else key[len(rel) + 1 :]
            out.append(self._file_step("COPY", key, posixpath.join(remote, inner)))
        return out

    # --- ignore rules (relative to the context, as Modal applies them to the context mount)

    def context_ignored(self, rel: str) -> bool:
        if self._context_ignored is None:
            spec = self.step.ignore
            # AUTO_DOCKERIGNORE reads <context_dir>/.dockerignore; from_file paths and callables
            # are relative to the cwd, as for every other step.
            base = self.context if isinstance(spec, AutoDockerignore) else self.cwd
            try:
                self._context_ignored = ignore_predicate(spec, base_dir=base)
            except InvalidError as exc:
                raise self.error(exc.message, fix=exc.fix or "fix the ignore= argument") from exc
        return self._context_ignored(rel)

    def _dir_ignore(self, rel: str) -> FilePatternMatcher | CallableIgnore:
        """The ignore spec for an AddLocalDir of the context directory ``rel``.

        AddLocalDir matches paths relative to its own directory, the context ignore rules
        paths relative to the context: for the context root they are the same, and the rules
        are passed on as data; below it, a predicate maps one onto the other.
        """
        spec = self.step.ignore
        if rel == ".":
            if isinstance(spec, AutoDockerignore):
                dockerignore = self.context / ".dockerignore"
                return FilePatternMatcher(*(read_ignore_file(dockerignore) if dockerignore.is_file() else []))
            if isinstance(spec, FilePatternMatcher) and spec.patterns_file is not None:
                return spec.model_copy(update={"patterns_file": str(self.cwd / spec.patterns_file)})
            if isinstance(spec, (FilePatternMatcher, CallableIgnore)):
                return spec
        if isinstance(spec, (AutoDockerignore, FilePatternMatcher)):
            base = self.context if isinstance(spec, AutoDockerignore) else self.cwd
            pattern_matcher(spec, base_dir=base)  # read and check the patterns now
        ignored = self.context_ignored
        wrapped = CallableIgnore(name=f"{spec!r} below {rel}/")
        wrapped._predicate = lambda p: ignored(f"{rel}/{p.as_posix()}")
        return wrapped


def _context_key(name: str) -> str:
    """A context file name as a context-relative path ("/.uv/uv.lock" is ".uv/uv.lock")."""
    return posixpath.normpath(name.lstrip("/") or ".")


def _under(key: str, rel: str) -> bool:
    return rel == "." or key.startswith(rel + "/")


def _glob_match(pattern: str, path: str) -> bool:
    parts, names = pattern.split("/"), path.split("/")
    return len(parts) == len(names) and all(fnmatch.fnmatchcase(n, p) for p, n in zip(parts, names, strict=True))


def _is_archive(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(262)
    except OSError:
        return False
    return head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar"
