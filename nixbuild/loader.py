"""Import an app file the way ``modal run`` does and collect the Images it defines.

The file is imported under its stem (not ``__main__``, so ``if __name__ == "__main__"`` blocks
do not run) with its folder first on ``sys.path`` and ``import modal`` resolving to
:mod:`nixbuild.modal_shim`. Afterwards ``sys.path`` is restored and the modules that came
from the app's folder are dropped from ``sys.modules``, so loading has no lasting effect and
a second load sees edited files. (Third-party modules the file imported stay cached: some C
extensions cannot be imported twice in one process.)

Images are found in module globals, on the App objects the import created and in the
``modal.Sandbox.create`` calls it made; each image object is reported once, under the first
name that applies:

1. the module global bound to it;
2. for an App's ``image=``, the App's global name (else its ``name``, else ``app``);
3. for an image given to ``@app.function``/``@app.cls``/``@app.server``, the function or
   class tag -- also for Modal's default ``debian_slim()`` image, which functions without
   an image (and an App without one) run on;
4. for an image given to ``modal.Sandbox.create``, the sandbox's ``name=``, else
   ``sandbox`` -- also for the default image a sandbox created without ``image=`` runs on.

A name already taken by another image gets ``_2``, ``_3``... appended (the second unnamed
sandbox's image is ``sandbox_2``). The order is that of first appearance while walking the
globals in definition order, then the Apps' registrations, then the sandboxes in the order
they were created.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from nixbuild.api.image import Image
from nixbuild.errors import AppLoadError, NixbuildError
from nixbuild.modal_shim.activate import modal_shim_active
from nixbuild.modal_shim.app import App, Function, FunctionSpec, default_image, recording_apps
from nixbuild.modal_shim.sandboxes import SandboxSpec, recording_sandboxes

_TRACEBACK_FRAMES = 6
_NIXBUILD_DIR = Path(__file__).resolve().parent


def load_images(path: Path, image: str | None = None) -> dict[str, Image]:
    """The app file's images by name (module docstring); with ``image``, only that one."""
    path = Path(path)
    namespace, apps, sandboxes = _import_app_file(path)
    images = collect_images(namespace, apps, sandboxes)
    if not images:
        raise AppLoadError(
            f"{path} defines no Image",
            fix="define one, e.g. `image = modal.Image.debian_slim()`, or decorate a function"
            " with `@app.function()` on a `modal.App`",
        )
    return pick(images, image, path)


def pick(images: dict[str, Image], image: str | None, path: Path) -> dict[str, Image]:
    """``images``, or only the one named ``image`` (an error naming the others when absent)."""
    if image is None:
        return images
    if image not in images:
        raise AppLoadError(
            f"{path} has no image named {image!r}; available: {', '.join(images)}",
            fix="pass one of the available names",
        )
    return {image: images[image]}


def collect_images(
    namespace: dict[str, Any], apps: Iterable[App], sandboxes: Iterable[SandboxSpec] = ()
) -> dict[str, Image]:
    """Name and order the images reachable from ``namespace``, ``apps`` and ``sandboxes``
    (module docstring)."""
    return _ImageCollector(namespace, apps, sandboxes).collect()


class _ImageCollector:
    def __init__(self, namespace: dict[str, Any], apps: Iterable[App], sandboxes: Iterable[SandboxSpec]):
        self.namespace = namespace
        self.sandboxes = list(sandboxes)
        self.global_names: dict[int, str] = {}
        for name, value in namespace.items():
            if isinstance(value, (Image, App)):
                self.global_names.setdefault(id(value), name)
        global_apps = [value for value in namespace.values() if isinstance(value, App)]
        self.apps = list({id(app): app for app in (*global_apps, *apps)}.values())
        self.found: dict[int, tuple[str, Image]] = {}

    def collect(self) -> dict[str, Image]:
        specs_by_target = {id(spec.target): spec for app in self.apps for spec in app.specs}
        for name, value in self.namespace.items():
            if isinstance(value, Image):
                self._add(value, name)
            elif isinstance(value, Function):
                self._add_spec(value.spec)
            elif id(value) in specs_by_target:
                self._add_spec(specs_by_target[id(value)])
        for app in self.apps:
            for spec in app.specs:
                self._add_spec(spec)
            if app.default_image is not None:
                self._add(app.default_image, self._app_name(app))
        for sandbox in self.sandboxes:
            self._add(sandbox.image, sandbox.name or "sandbox")
        return dict(self.found.values())

    def _add_spec(self, spec: FunctionSpec) -> None:
        # As in Modal, the fallback is the image of the App that registered the function,
        # even when another App includes it.
        if spec.image is not None:
            self._add(spec.image, spec.tag)
        elif spec.app.default_image is not None:
            self._add(spec.app.default_image, self._app_name(spec.app))
        else:
            self._add(default_image(), spec.tag)

    def _app_name(self, app: App) -> str:
        return self.global_names.get(id(app)) or app.name or "app"

    def _add(self, image: Image, fallback_name: str) -> None:
        if id(image) in self.found:
            return
        name = self.global_names.get(id(image)) or fallback_name
        taken = {existing for existing, _ in self.found.values()}
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}_{n}", n + 1
        self.found[id(image)] = (unique, image)


# ---------------------------------------------------------------------------------------------
# Importing


def _import_app_file(path: Path) -> tuple[dict[str, Any], list[App], list[SandboxSpec]]:
    if not path.exists():
        raise AppLoadError(f"app file {path} does not exist", fix="check the path of the app file")
    if not path.is_file():
        raise AppLoadError(f"{path} is not a file", fix="pass the Python file that defines the app")
    try:
        source = path.read_bytes()
        # Compiling first reports a syntax error in the app file itself, before any import.
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise _syntax_error(exc) from None
    except (OSError, ValueError) as exc:
        raise AppLoadError(f"cannot read app file {path}: {exc}") from None

    app_dir = path.parent.resolve()
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {path} as a Python module", fix="give the app file a .py name")
    module = importlib.util.module_from_spec(spec)

    saved_path = list(sys.path)
    saved_modules = dict(sys.modules)
    saved_dont_write_bytecode = sys.dont_write_bytecode
    sys.path.insert(0, str(app_dir))
    # Loading must not write __pycache__ into the user's project, and files created or edited
    # since the last load must be seen.
    sys.dont_write_bytecode = True
    importlib.invalidate_caches()
    # Registered like `modal run` does (dataclasses, pickling and self-imports look it up),
    # unless that would shadow a module already imported under the same name.
    if module_name not in sys.modules:
        sys.modules[module_name] = module
    try:
        with modal_shim_active(), recording_apps() as apps, recording_sandboxes() as sandboxes:
            spec.loader.exec_module(module)
    except SyntaxError as exc:  # in a module the app file imports
        raise _syntax_error(exc) from None
    except NixbuildError as exc:
        # An Image method refused its arguments: keep the error, point at the app's line.
        raise exc.at(_location(exc, app_dir) or str(path)) from None
    except Exception as exc:
        raise _import_error(path, app_dir, exc) from None
    except SystemExit as exc:
        raise AppLoadError(
            f"{path} called sys.exit({exc.code!r}) while being imported",
            where=_location(exc, app_dir),
            fix='move that code under `if __name__ == "__main__":`',
        ) from None
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_dont_write_bytecode
        _restore_modules(saved_modules, module, app_dir)
    return vars(module), apps, sandboxes


def _restore_modules(saved: dict[str, ModuleType], app_module: ModuleType, app_dir: Path) -> None:
    for name, module in list(sys.modules.items()):
        if name not in saved and (module is app_module or _comes_from(module, app_dir)):
            del sys.modules[name]
    for name, module in saved.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module


def _comes_from(module: ModuleType, app_dir: Path) -> bool:
    """Whether a module was imported from the app's folder (:func:`_is_users`)."""
    locations = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
    return any(_is_users(location, app_dir) for location in filter(None, locations))


def _is_users(filename: str, app_dir: Path) -> bool:
    """Whether a file is the user's: in the app's folder, and not in an environment that
    happens to live inside it (a project's ``.venv``) nor in nixbuild itself (an app next
    to a nixbuild checkout)."""
    try:
        resolved = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    return resolved.is_relative_to(app_dir) and not any(resolved.is_relative_to(env) for env in _environments())


@functools.cache
def _environments() -> tuple[Path, ...]:
    return (*{Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}, _NIXBUILD_DIR)


# ---------------------------------------------------------------------------------------------
# Error reports


def _syntax_error(exc: SyntaxError) -> AppLoadError:
    where = f"{exc.filename}:{exc.lineno}" if exc.lineno else str(exc.filename)
    message = f"syntax error: {exc.msg}"
    if exc.text:
        line = exc.text.rstrip("\n")
        message += f"\n    {line.strip()}"
        if exc.offset:
            indent = len(line) - len(line.lstrip())
            message += "\n    " + " " * max(exc.offset - 1 - indent, 0) + "^"
    return AppLoadError(message, where=where, fix="correct the line above; the file must be valid Python")


def _import_error(path: Path, app_dir: Path, exc: BaseException) -> AppLoadError:
    """The user's frames of the traceback (the last few), then the exception itself, which
    names the problem even when it was raised inside nixbuild or a library."""
    frames = _user_frames(exc, app_dir)
    tail = "".join(traceback.format_list(frames[-_TRACEBACK_FRAMES:]))
    detail = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
    if isinstance(exc, ImportError):
        fix = ("fix the error above; imports that exist only inside the image belong in"
               " `with image.imports():` or inside the function")
    else:
        fix = "fix the error above"
    return AppLoadError(f"importing {path} raised {type(exc).__name__}\n{tail}{detail}",
                        where=_location(exc, app_dir), fix=fix)


def _user_frames(exc: BaseException, app_dir: Path) -> list[traceback.FrameSummary]:
    """The traceback's frames in the user's files only (:func:`_is_users`): importlib's,
    nixbuild's and libraries' frames say nothing the user can change."""
    return [frame for frame in traceback.extract_tb(exc.__traceback__) if _is_users(frame.filename, app_dir)]


def _location(exc: BaseException, app_dir: Path) -> str | None:
    """``file:line`` of the innermost frame in the user's files."""
    frames = _user_frames(exc, app_dir)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None
