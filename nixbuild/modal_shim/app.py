"""``modal.App`` and what its decorators register.

An App records, per function or class, the Image and build-relevant options it was given
(:class:`FunctionSpec`); the loader reads those to find the images an app file uses. Nothing
runs remotely: decorated functions stay plain local callables.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from nixbuild.api.gpu import GpuSpec, parse_gpu_choices
from nixbuild.api.image import Image
from nixbuild.api.secret import Secret, validate_env_dict
from nixbuild.api.volume import validate_volumes
from nixbuild.errors import InvalidError
from nixbuild.modal_shim.decorators import WEB_MARKS, add_parameter_init, marks
from nixbuild.modal_shim.handles import FunctionHandle, lookup, needs_modal
from nixbuild.modal_shim.recording import Recorder

# Modal creates ``modal.app._default_image`` when ``modal`` is imported: functions with no
# image and no app image run on it. No line of the user's code made it (one object serves
# every such function), so its step has no origin.
_default_image: Image = Image._from_steps(Image.debian_slim().steps, origins=(None,))

_apps: Recorder[App] = Recorder()


@dataclass(frozen=True)
class FunctionSpec:
    """What ``@app.function`` / ``@app.cls`` / ``@app.server`` recorded for one target.

    ``target`` is the decorated function (undecorated, not the :class:`Function`) or class;
    ``app`` the App whose decorator registered it (it stays the owner when another App
    ``include``s it). ``image`` is None when the decorator was given none: the owner's image
    applies, then Modal's default. ``options`` keeps the other keyword arguments, unvalidated.
    """

    tag: str
    kind: Literal["function", "cls", "server"]
    target: Any
    app: App
    image: Image | None
    gpu: tuple[GpuSpec, ...] = ()
    secrets: tuple[Secret, ...] = ()
    volumes: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


recording_apps = _apps.recording
"""Collect every App constructed inside the block (including in modules the app file imports
and ``App.lookup``), in creation order."""


def default_image() -> Image:
    return _default_image


class Function:
    """A registered function. Calling it (or ``.local``/``.remote``) runs it here."""

    def __init__(self, spec: FunctionSpec, raw_f: Callable[..., Any]):
        self.spec = spec
        self._raw_f = raw_f
        functools.update_wrapper(self, raw_f)

    @property
    def tag(self) -> str:
        return self.spec.tag

    @property
    def app(self) -> App:
        return self.spec.app

    def get_raw_f(self) -> Callable[..., Any]:
        return self._raw_f

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._raw_f(*args, **kwargs)

    def local(self, *args: Any, **kwargs: Any) -> Any:
        return self._raw_f(*args, **kwargs)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._raw_f(*args, **kwargs)

    def map(self, *iterables: Any, **kwargs: Any) -> Iterator[Any]:
        return map(self._raw_f, *iterables)

    def starmap(self, input_iterator: Any, **kwargs: Any) -> Iterator[Any]:
        return itertools.starmap(self._raw_f, input_iterator)

    def for_each(self, *iterables: Any, **kwargs: Any) -> None:
        for _ in map(self._raw_f, *iterables):
            pass

    def with_options(self, **options: Any) -> Function:
        """``with_options``/``with_concurrency``/``with_batching``: the function itself, as
        these change no image and calls run here anyway."""
        return self

    with_concurrency = with_batching = with_options

    def __repr__(self) -> str:
        return f"<modal Function {self.tag} (nixbuild shim)>"

    @staticmethod
    def from_name(app_name: str, name: str, **kwargs: Any) -> FunctionHandle:
        """A function deployed on Modal: a handle that can be configured but not called here."""
        return lookup(FunctionHandle, "modal.Function.from_name", (app_name, name))


def _check_sequence(items: Any, item_type: type, message: str) -> tuple[Any, ...]:
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, item_type) for item in items):
        raise InvalidError(message)
    return tuple(items)


def check_image(image: Any) -> Image | None:
    if image is not None and not isinstance(image, Image):
        raise InvalidError(f"Expected modal.Image object. Got {type(image)}.")
    return image


class App:
    """``modal.App(name=None, *, tags=None, image=None, secrets=[], volumes={}, include_source=True)``.

    As in Modal 1.6.4 there is no public ``app.image``; nixbuild reads :attr:`default_image`
    and :attr:`specs`.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        tags: dict[str, str] | None = None,
        image: Image | None = None,
        secrets: list[Secret] = [],  # noqa: B006 (Modal's signature)
        volumes: dict[Any, Any] = {},  # noqa: B006 (Modal's signature)
        include_source: bool = True,
    ):
        if name is not None and not isinstance(name, str):
            raise InvalidError("Invalid value for `name`: Must be string.")
        self._secrets = _check_sequence(
            secrets, Secret, "`secrets=` has to be a list or tuple of `modal.Secret` objects"
        )
        self._volumes = validate_volumes(volumes)
        if image is not None and not isinstance(image, Image):
            raise InvalidError("`image=` has to be a `modal.Image` object")
        self._name = name
        self._description = name
        self._tags = dict(tags or {})
        self._image = image
        self._include_source = include_source
        self._specs: dict[str, FunctionSpec] = {}
        self._local_entrypoints: dict[str, Callable[..., Any]] = {}
        self._web_endpoints: list[str] = []
        self._looked_up = False
        _apps.add(self)

    # -- state ---------------------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def description(self) -> str | None:
        return self._description

    def set_description(self, description: str) -> None:
        self._description = description

    @property
    def default_image(self) -> Image | None:
        """The ``image=`` given to the App (nixbuild extension; Modal keeps it private)."""
        return self._image

    @property
    def looked_up(self) -> bool:
        """Whether the App came from :meth:`lookup`, i.e. stands for an App on Modal
        (nixbuild extension)."""
        return self._looked_up

    @property
    def specs(self) -> tuple[FunctionSpec, ...]:
        """Registered functions, classes and servers in registration order (nixbuild extension)."""
        return tuple(self._specs.values())

    @property
    def registered_functions(self) -> dict[str, Any]:
        return {spec.tag: spec.target for spec in self._specs.values() if spec.kind == "function"}

    @property
    def registered_classes(self) -> dict[str, Any]:
        return {spec.tag: spec.target for spec in self._specs.values() if spec.kind == "cls"}

    @property
    def registered_entrypoints(self) -> dict[str, Callable[..., Any]]:
        return dict(self._local_entrypoints)

    @property
    def registered_web_endpoints(self) -> list[str]:
        return list(self._web_endpoints)

    def __repr__(self) -> str:
        return f"modal.App({self._name!r}) (nixbuild shim)"

    # -- decorators ----------------------------------------------------------------------------

    def function(
        self,
        _warn_parentheses_missing: Any = None,
        *,
        image: Image | None = None,
        gpu: str | list[str] | None = None,
        secrets: list[Secret] | None = None,
        volumes: dict[Any, Any] | None = None,
        env: dict[str, str | None] | None = None,
        serialized: bool = False,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[Callable[..., Any]], Function]:
        """``@app.function(image=..., gpu=..., ...)``: register a function."""
        _refuse_missing_parentheses(_warn_parentheses_missing, "function")
        make_spec = self._spec_factory("function", image, gpu, secrets, volumes, env, name, options)

        def decorator(f: Callable[..., Any]) -> Function:
            if isinstance(f, type):
                raise InvalidError("`@app.function` cannot be applied to a class; use `@app.cls` instead.")
            _require_global(f, serialized, "function")
            spec = make_spec(f.__name__, f)
            self._register(spec)
            if WEB_MARKS & set(marks(f)):
                self._web_endpoints.append(spec.tag)
            return Function(spec, f)

        return decorator

    def cls(
        self,
        _warn_parentheses_missing: Any = None,
        *,
        image: Image | None = None,
        gpu: str | list[str] | None = None,
        secrets: list[Secret] | None = None,
        volumes: dict[Any, Any] | None = None,
        env: dict[str, str | None] | None = None,
        serialized: bool = False,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[type], type]:
        """``@app.cls(image=..., ...)``: register a class; the class is returned as is."""
        _refuse_missing_parentheses(_warn_parentheses_missing, "cls")
        make_spec = self._spec_factory("cls", image, gpu, secrets, volumes, env, name, options)

        def decorator(cls: type) -> type:
            if not isinstance(cls, type):
                raise InvalidError("`@app.cls` can only be applied to a class.")
            _require_global(cls, serialized, "cls")
            add_parameter_init(cls)
            _add_option_methods(cls)
            spec = make_spec(cls.__name__, cls)
            self._register(spec)
            for attr in vars(cls).values():
                if WEB_MARKS & set(marks(attr)):
                    self._web_endpoints.append(f"{spec.tag}.{attr.__name__}")
            return cls

        return decorator

    def server(
        self,
        _warn_parentheses_missing: Any = None,
        *,
        image: Image | None = None,
        gpu: str | list[str] | None = None,
        secrets: list[Secret] | None = None,
        volumes: dict[Any, Any] | None = None,
        env: dict[str, str | None] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[Any], Any]:
        """``@app.server(image=..., ...)``: register a server; the target is returned as is."""
        _refuse_missing_parentheses(_warn_parentheses_missing, "server")
        make_spec = self._spec_factory("server", image, gpu, secrets, volumes, env, name, options)

        def decorator(target: Any) -> Any:
            self._register(make_spec(target.__name__, target))
            return target

        return decorator

    def local_entrypoint(
        self, _warn_parentheses_missing: Any = None, *, name: str | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``@app.local_entrypoint()``: recorded; the function is returned as is."""
        _refuse_missing_parentheses(_warn_parentheses_missing, "local_entrypoint")

        def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
            self._local_entrypoints[name or f.__name__] = f
            return f

        return decorator

    def include(self, other_app: App, inherit_tags: bool = True) -> App:
        """Take over another app's functions and classes (with their images)."""
        for spec in other_app.specs:
            self._specs.setdefault(spec.tag, spec)
        self._web_endpoints.extend(t for t in other_app._web_endpoints if t not in self._web_endpoints)
        if inherit_tags:
            self._tags = {**other_app._tags, **self._tags}
        return self

    # -- things that need Modal's servers -----------------------------------------------------

    @contextlib.contextmanager
    def run(self, *args: Any, **kwargs: Any) -> Iterator[App]:
        raise needs_modal("app.run()")
        yield self  # pragma: no cover

    def deploy(self, *args: Any, **kwargs: Any) -> App:
        raise needs_modal("app.deploy()")

    @staticmethod
    def lookup(name: str, *, create_if_missing: bool = False, **kwargs: Any) -> App:
        """``modal.App.lookup(name, create_if_missing=...)``: the App deployed on Modal under
        that name. Nothing is looked up: an App of that name is made and recorded like any
        other, so the images given to it (a Sandbox's) are found."""
        app = App(name)
        app._looked_up = True
        return app

    # -- internals -----------------------------------------------------------------------------

    def _spec_factory(
        self,
        kind: Literal["function", "cls", "server"],
        image: Any,
        gpu: Any,
        secrets: Any,
        volumes: Any,
        env: Any,
        name: str | None,
        options: dict[str, Any],
    ) -> Callable[[str, Any], FunctionSpec]:
        """Validate the decorator's arguments now (Modal does so at decoration time) and
        return a maker of the spec once the target is known."""
        checked_image = check_image(image)
        checked_gpu = parse_gpu_choices(gpu)
        checked_secrets = _check_sequence(
            secrets if secrets is not None else [],
            Secret,
            "`secrets=` has to be a list or tuple of `modal.Secret` objects",
        )
        checked_volumes = validate_volumes(volumes if volumes is not None else {})
        checked_env = validate_env_dict(env) if env else {}

        def make_spec(default_tag: str, target: Any) -> FunctionSpec:
            return FunctionSpec(
                tag=name or default_tag,
                kind=kind,
                target=target,
                app=self,
                image=checked_image,
                gpu=checked_gpu,
                secrets=checked_secrets,
                volumes=checked_volumes,
                env=checked_env,
                options=dict(options),
            )

        return make_spec

    def _register(self, spec: FunctionSpec) -> None:
        # Modal warns and overrides on a tag collision; the latest definition wins here too.
        self._specs.pop(spec.tag, None)
        self._specs[spec.tag] = spec


def _add_option_methods(cls: type) -> None:
    """Give a ``@app.cls`` class Modal's ``with_options``/``with_concurrency``/``with_batching``
    (unless it defines them): they return the class, since they change no image."""
    for name in ("with_options", "with_concurrency", "with_batching"):
        if not hasattr(cls, name):
            setattr(cls, name, classmethod(lambda klass, *args, **kwargs: klass))


def _refuse_missing_parentheses(value: Any, decorator: str) -> None:
    if value is not None:
        raise InvalidError(f"Did you forget parentheses? Suggestion: `@app.{decorator}()`.")


def _require_global(target: Any, serialized: bool, decorator: str) -> None:
    if not serialized and "<locals>" in getattr(target, "__qualname__", ""):
        raise InvalidError(
            f"The `@app.{decorator}` decorator must apply to functions in global scope,"
            " unless `serialized=True` is set.\n"
            "If trying to apply additional decorators, they may need to use `functools.wraps`."
        )
