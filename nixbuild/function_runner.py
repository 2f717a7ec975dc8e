"""Runs a ``run_function`` step inside the image being built (its own Python, in the chroot).

Not imported by nixbuild: its source text is handed to the image's ``python3 -c``, with one
argument, the base64 JSON payload {module, module_file, module_text, function, arguments}.
As in Modal, the function's module is imported first (so helpers and constants it uses are
there), then the function is called with the unpickled ``(args, kwargs)``. ``modal`` and
``nixbuild`` are replaced by stand-ins whose every attribute, call and decorator is a no-op
returning the decorated object, since the image does not carry nixbuild; imports inside
``with image.imports():`` that fail are skipped, as Modal's own image does locally.
Only the standard library may be used here.
"""

import base64
import json
import pickle
import sys
import types


class _Anything:
    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        # A decorator (``@app.function``, ``@app.cls(...)``) hands back what it decorates.
        if len(args) == 1 and not kwargs and (callable(args[0]) or isinstance(args[0], type)):
            return args[0]
        return self

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is not None and issubclass(exc_type, ImportError)

    def __iter__(self):
        return iter(())


class _StandIn(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


def main(payload_b64):
    payload = json.loads(base64.b64decode(payload_b64))
    for name in ("modal", "nixbuild"):
        sys.modules[name] = _StandIn(name)
    sys.path.insert(0, "/root")
    module = types.ModuleType(payload["module"])
    module.__file__ = "/root/" + payload["module_file"]
    sys.modules[payload["module"]] = module
    exec(compile(payload["module_text"], module.__file__, "exec"), module.__dict__)
    args, kwargs = ((), {})
    if payload["arguments"]:
        args, kwargs = pickle.loads(base64.b64decode(payload["arguments"]))
    getattr(module, payload["function"])(*args, **kwargs)


if __name__ == "__main__":
    main(sys.argv[1])
