"""The `modal` stand-in: App validation, decorators, and swapping it into sys.modules."""

import re
import sys
import types

import pytest

import nixbuild
from nixbuild.api import Image, Secret, Volume
from nixbuild.errors import InvalidError
from nixbuild.modal_shim import (
    App,
    Cron,
    Period,
    Retries,
    asgi_app,
    concurrent,
    enter,
    fastapi_endpoint,
    method,
    parameter,
    web_server,
)
from nixbuild.modal_shim import Dict as ModalDict
from nixbuild.modal_shim.activate import modal_shim_active
from nixbuild.modal_shim.app import default_image


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_app_image_must_be_an_image():
    with pytest.raises(InvalidError, match=exact("`image=` has to be a `modal.Image` object")):
        App(image="debian")


def test_app_secrets_and_volumes_are_checked():
    with pytest.raises(InvalidError, match=exact("`secrets=` has to be a list or tuple of `modal.Secret` objects")):
        App(secrets=[{"A": "1"}])
    with pytest.raises(InvalidError, match=exact("Volume /root cannot be mounted at '/root'.")):
        App(volumes={"/root": Volume.from_name("v")})
    with pytest.raises(InvalidError, match=exact("Invalid value for `name`: Must be string.")):
        App(3)


def test_app_has_no_public_image_attribute_like_modal_1_6_4():
    app = App(image=Image.debian_slim())
    with pytest.raises(AttributeError):
        app.image  # noqa: B018
    assert isinstance(app.default_image, Image)


def test_function_image_must_be_an_image():
    app = App()
    with pytest.raises(InvalidError, match=exact("Expected modal.Image object. Got <class 'str'>.")):
        app.function(image="debian")


def test_function_decorator_needs_parentheses():
    app = App()
    with pytest.raises(InvalidError, match=re.escape("Suggestion: `@app.function()`.")):

        @app.function
        def f():
            pass


def test_function_arguments_are_validated_at_decoration():
    app = App()
    with pytest.raises(InvalidError, match="Invalid GPU count: x"):
        app.function(gpu="h100:x")
    with pytest.raises(InvalidError, match=re.escape("has to be a list or tuple of `modal.Secret` objects")):
        app.function(secrets=["token"])


def test_functions_must_be_global_unless_serialized():
    app = App()
    with pytest.raises(InvalidError, match="must apply to functions in global scope"):

        @app.function()
        def local():
            pass

    @app.function(serialized=True)
    def allowed():
        return 1

    assert allowed.remote() == 1


def test_decorated_functions_stay_local_callables():
    app = App("demo")
    image = Image.debian_slim().pip_install("x")
    decorated = app.function(image=image, gpu=["h100", "a100"], timeout=60, secrets=[Secret.from_name("s")])(_double)
    assert decorated(2) == decorated.local(2) == decorated.remote(2) == 4
    assert list(decorated.map([1, 2])) == [2, 4]
    assert list(decorated.starmap([(3,)])) == [6]
    assert decorated.__name__ == "_double" and decorated.get_raw_f() is _double
    spec = decorated.spec
    assert (spec.tag, spec.kind, spec.image, spec.app) == ("_double", "function", image, app)
    assert [g.type for g in spec.gpu] == ["H100", "A100"]
    assert spec.options == {"timeout": 60}
    assert app.registered_functions == {"_double": _double}


def test_cls_registers_the_class_and_keeps_it_usable():
    app = App()
    decorated = app.cls(gpu="t4")(_Model)
    assert decorated is _Model
    assert app.registered_classes == {"_Model": _Model}
    model = _Model(size="large")
    assert model.size == "large" and model.generate("hi") == "hi:large"
    assert _Model().size == "small"
    assert app.registered_web_endpoints == ["_Model.serve", "_Model.dev_server"]


def test_web_endpoints_and_local_entrypoints_are_recorded():
    app = App()

    @app.function(serialized=True)  # defined in a test function, so not global
    @fastapi_endpoint(method="POST")
    def hook(x):
        return x

    @app.local_entrypoint()
    def main():
        return "ran"

    assert hook(5) == 5
    assert app.registered_web_endpoints == ["hook"]
    assert app.registered_entrypoints == {"main": main}
    assert main() == "ran"


def test_marker_decorators_need_parentheses():
    with pytest.raises(InvalidError, match=re.escape("Suggestion: `@modal.method()`.")):

        @method
        def m(self):
            pass


def test_include_keeps_the_owner():
    workers = App("workers", image=Image.debian_slim())
    fetch = workers.function()(_double)
    main = App("main").include(workers)
    assert main.specs == workers.specs
    assert fetch.app is workers


def test_schedules_and_server_side_handles():
    assert "days=1" in repr(Period(days=1))
    assert Cron("0 9 * * *").cron_string == "0 9 * * *"
    assert Retries(max_retries=3).max_retries == 3
    handle = ModalDict.from_name("cache", create_if_missing=True)
    with pytest.raises(InvalidError, match="needs Modal's servers"):
        handle["key"]
    with pytest.raises(InvalidError, match="needs Modal's servers"):
        handle.get("key")


def test_app_run_explains_itself():
    with pytest.raises(InvalidError, match="needs Modal's servers"), App().run():
        pass


def test_shim_replaces_and_restores_modal(monkeypatch):
    real = types.ModuleType("modal")
    real_sub = types.ModuleType("modal.functions")
    monkeypatch.setitem(sys.modules, "modal", real)
    monkeypatch.setitem(sys.modules, "modal.functions", real_sub)
    with modal_shim_active() as shim:
        import modal
        import modal.exception

        assert modal is shim
        assert modal.Image is Image
        assert modal.exception.InvalidError is InvalidError
        assert sys.modules["modal.functions"] is not real_sub  # the shim's own
        from modal.file_pattern_matcher import FilePatternMatcher

        assert FilePatternMatcher("*.py").patterns == ("*.py",)
    assert sys.modules["modal"] is real
    assert sys.modules["modal.functions"] is real_sub
    assert "modal.exception" not in sys.modules


def test_default_image_is_modals_debian_slim():
    assert [s.kind for s in default_image().steps] == ["debian_slim"]
    assert default_image() is default_image()


def test_package_exports():
    assert nixbuild.Image is Image and nixbuild.Secret is Secret and nixbuild.App is App
    with pytest.raises(AttributeError):
        nixbuild.Nope  # noqa: B018


def _double(x):
    return 2 * x


class _Model:
    size: str = parameter(default="small")

    @enter()
    def load(self):
        self.loaded = True

    @method()
    @concurrent(max_inputs=4)
    def generate(self, prompt):
        return f"{prompt}:{self.size}"

    @asgi_app()
    def serve(self):
        return None

    @web_server(8000)
    def dev_server(self):
        return None


def test_unknown_modal_attributes_name_the_stand_in():
    import nixbuild.modal_shim as shim

    with pytest.raises(AttributeError, match="nixbuild's stand-in"):
        shim.Stub  # noqa: B018
    assert not hasattr(shim, "gpu")  # modal.gpu is gone from modal 1.x
