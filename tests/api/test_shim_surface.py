"""The shim's public surface is modal 1.6.4's, server-side lookups are inert handles, and
images used only by sandboxes are loaded under the documented names."""

import importlib
import textwrap

import pytest

from nixbuild.api import Image
from nixbuild.errors import InvalidError
from nixbuild.loader import load_images
from nixbuild.modal_shim.activate import modal_shim_active
from nixbuild.modal_shim.app import App, default_image
from nixbuild.modal_shim.decorators import marks
from nixbuild.modal_shim.sandboxes import Sandbox, recording_sandboxes

# `modal.__all__` of modal 1.6.4.
MODAL_ALL = """
__version__ App Client Cluster Cls Cron Dict Environment Error FilePatternMatcher Function FunctionCall
Image NetworkFileSystem Period Probe Proxy Queue Retries CloudBucketMount Sandbox SandboxSnapshot
SchedulerPlacement Secret Server Tunnel Volume Workspace asgi_app batched billing clustered concurrent
current_function_call_id current_input_id enable_output enter exit experimental fastapi_endpoint forward
is_local interact method parameter sessioned types web_endpoint web_server wsgi_app
""".split()

# Public submodules of modal 1.6.4, with names app files import from them.
SUBMODULES = {
    "app": "App",
    "billing": "workspace_billing_report",
    "call_graph": "InputInfo InputStatus",
    "client": "Client",
    "cloud_bucket_mount": "CloudBucketMount",
    "cls": "Cls Obj parameter is_parameter",
    "cluster": "Cluster",
    "config": "config logger",
    "container_process": "ContainerProcess",
    "dict": "Dict",
    "environments": "Environment",
    "exception": "Error InvalidError NotFoundError FunctionTimeoutError SandboxTimeoutError ConflictError",
    "experimental": "clustered get_cluster_info stop_fetching_inputs get_local_input_concurrency"
    " set_local_input_concurrency image_delete http_server flash_forward",
    "experimental.flash": "http_server flash_forward",
    "experimental.flash_server": "server_forward",
    "experimental.ipython": "load_ipython_extension",
    "experimental.stream": "Stream",
    "file_pattern_matcher": "FilePatternMatcher NON_PYTHON_FILES",
    "functions": "Function FunctionCall",
    "image": "Image",
    "io_streams": "StreamReader StreamWriter",
    "mount": "Mount",
    "network_file_system": "NetworkFileSystem",
    "object": "Object",
    "output": "enable_output",
    "partial_function": "method enter exit fastapi_endpoint asgi_app wsgi_app web_server batched concurrent",
    "proxy": "Proxy",
    "queue": "Queue",
    "retries": "Retries",
    "runner": "deploy_app run_app",
    "running_app": "RunningApp",
    "sandbox": "Sandbox Probe",
    "sandbox.sandbox": "Sandbox SandboxSnapshot",
    "schedule": "Cron Period",
    "scheduler_placement": "SchedulerPlacement",
    "secret": "Secret",
    "server": "Server",
    "serving": "serve_app",
    "stream_type": "StreamType",
    "token_flow": "TokenFlow",
    "types": "FileEntry AppInfo",
    "volume": "Volume",
    "workspace": "Workspace",
}


@pytest.fixture
def modal():
    with modal_shim_active() as shim:
        yield shim


@pytest.mark.parametrize("name", MODAL_ALL)
def test_every_name_of_modal_all_imports(modal, name):
    namespace: dict = {}
    exec(f"from modal import {name}", namespace)
    assert namespace[name] is getattr(modal, name)


def test_star_import_and_version(modal):
    namespace: dict = {}
    exec("from modal import *", namespace)
    assert set(MODAL_ALL) - {"__version__"} <= set(namespace)
    assert modal.__version__ == "1.6.4"


@pytest.mark.parametrize("submodule", SUBMODULES)
def test_every_public_submodule_imports(modal, submodule):
    module = importlib.import_module(f"modal.{submodule}")
    for name in SUBMODULES[submodule].split():
        namespace: dict = {}
        exec(f"from modal.{submodule} import {name}", namespace)
    # Reachable as attributes too, as after `import modal.experimental.flash`.
    parent = modal
    for part in submodule.split("."):
        parent = getattr(parent, part)
    assert parent is module


def test_names_and_submodules_modal_does_not_have(modal):
    for missing in ("modal.gpu", "modal.snapshot"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(missing)
    with pytest.raises(AttributeError, match=r"module 'modal.functions' has no attribute 'Stub'.*stand-in"):
        importlib.import_module("modal.functions").Stub  # noqa: B018
    with pytest.raises(ImportError):
        exec("from modal.experimental import raw_registry_image", {})  # removed before 1.6.4


def test_submodules_share_the_top_level_objects(modal):
    import modal.experimental
    import modal.functions
    import modal.sandbox

    assert modal.functions.Function is modal.Function
    assert modal.sandbox.Sandbox is modal.Sandbox
    assert modal.experimental.Stream is modal.experimental.stream.Stream
    assert issubclass(modal.exception.FunctionTimeoutError, modal.exception.TimeoutError)
    assert issubclass(modal.exception.ConflictError, InvalidError)


def test_lookups_give_handles_that_configure_but_do_not_call(modal):
    f = modal.Function.from_name("other", "fn")
    assert f.with_options(gpu="A10G").with_concurrency(max_inputs=4) is f
    with pytest.raises(InvalidError, match=r"modal.Function.from_name\('other', 'fn'\).remote needs Modal's servers"):
        f.remote(1)
    model_cls = modal.Cls.from_name("other", "C").with_options(gpu="A10G")
    model = model_cls(size="large")  # lazy in Modal too
    with pytest.raises(InvalidError, match=r"from_name\('other', 'C'\)\(\).generate.remote needs Modal's servers"):
        model.generate.remote("hi")
    for handle in (
        modal.Dict.from_name("d", create_if_missing=True),
        modal.Queue.from_name("q"),
        modal.Client.from_credentials("id", "secret"),
        modal.FunctionCall.from_id("fc-1"),
        modal.Environment.from_name("main"),
    ):
        with pytest.raises(InvalidError, match="needs Modal's servers"):
            handle.get("key")
    with pytest.raises(InvalidError, match=r"calling modal.Dict.ephemeral needs Modal's servers"):
        modal.Dict.ephemeral()
    with pytest.raises(InvalidError, match="calling modal.forward"):
        modal.forward(8000)
    assert modal.Volume.from_name("v").name == "v" and modal.Secret.from_name("s").name == "s"


def test_local_functions_and_classes_take_options():
    app = App()
    fn = app.function(serialized=True)(lambda: 1)
    assert fn.with_options(gpu="A100") is fn
    cls = app.cls(serialized=True)(type("Local", (), {}))
    assert cls.with_options(gpu="A100") is cls and cls.with_concurrency(max_inputs=2) is cls


def test_experimental_decorators_record_their_options(modal):
    import modal.experimental

    def train():
        pass

    assert modal.experimental.clustered(8)(train) is train
    modal.clustered(size=4)(train)
    modal.experimental.http_server(port=8000)(train)
    assert marks(train)["clustered"] == {"size": 4}
    assert marks(train)["http_server"] == {"port": 8000}


def test_app_lookup_returns_a_recorded_app(modal):
    app = modal.App.lookup("x", create_if_missing=True)
    assert isinstance(app, App) and app.name == "x" and app.looked_up
    assert not modal.App("y").looked_up


def test_sandbox_is_inert_and_records_its_image():
    app = App.lookup("sandboxes", create_if_missing=True)
    image = Image.debian_slim().pip_install("numpy")
    with recording_sandboxes() as specs:
        sb = Sandbox.create("sleep", "1", app=app, image=image, name="runner", tags={"a": "b"}, timeout=60)
        bare = Sandbox.create(app=app)
    assert [(spec.name, spec.image) for spec in specs] == [("runner", image), (None, default_image())]
    assert specs[0].image is image

    process = sb.exec("python", "-c", "print(1)")
    assert process.stdout.read() == "" and list(process.stderr) == []
    assert process.wait() == 0 and process.poll() == 0 and process.returncode == 0
    assert sb.exec("cat", text=False).stdout.read() == b""
    process.stdin.write("x")
    process.stdin.write_eof()
    assert sb.wait() is None and sb.terminate() is None and sb.poll() == 0
    assert sb.get_tags() == {"a": "b"} and bare.get_tags() == {}
    assert list(Sandbox.list()) == []
    with pytest.raises(InvalidError, match=r"modal.Sandbox.create\('sleep', '1'\).tunnels needs Modal's servers"):
        sb.tunnels()
    assert Sandbox.from_id("sb-1").poll() == 0


def test_sandbox_create_checks_like_modal():
    with pytest.raises(InvalidError, match="Sandboxes require an App"):
        Sandbox.create("echo")
    with pytest.raises(InvalidError, match="App has not been initialized yet"):
        Sandbox.create("echo", app=App("constructed"))
    with pytest.raises(InvalidError, match="Expected modal.Image object"):
        Sandbox.create("echo", app=App.lookup("x"), image="debian")


def test_an_app_that_looks_things_up_and_creates_a_sandbox_loads(tmp_path):
    app = tmp_path / "sandbox_app.py"
    app.write_text(
        textwrap.dedent(
            """
            import modal
            import modal.experimental
            from modal.container_process import ContainerProcess

            app = modal.App.lookup("x", create_if_missing=True)
            sb = modal.Sandbox.create(
                "sleep", "1", app=app, image=modal.Image.debian_slim().apt_install("jq")
            )
            f = modal.Function.from_name("other", "fn")
            C = modal.Cls.from_name("other", "C").with_options(gpu="A10G")
            print(sb.exec("jq", "--version").stdout.read())
            sb.terminate()
            """
        )
    )
    images = load_images(app)
    assert list(images) == ["sandbox"]
    steps = images["sandbox"].steps
    assert [step.kind for step in steps] == ["debian_slim", "apt_install"]
    assert steps[-1].packages == ("jq",)
    assert list(load_images(app, image="sandbox")) == ["sandbox"]


def test_sandbox_images_are_named_by_global_then_name_then_sandbox_n(tmp_path):
    app = tmp_path / "many_sandboxes.py"
    app.write_text(
        textwrap.dedent(
            """
            import modal

            app = modal.App.lookup("x", create_if_missing=True)
            tools = modal.Image.debian_slim().apt_install("git")
            modal.Sandbox.create(app=app, image=tools, name="first")
            modal.Sandbox.create(app=app, image=modal.Image.debian_slim().pip_install("a"))
            modal.Sandbox.create(app=app, image=modal.Image.debian_slim().pip_install("b"), name="runner")
            modal.Sandbox.create(app=app, image=modal.Image.debian_slim().pip_install("c"))
            modal.Sandbox.create(app=app)  # Modal's default image
            """
        )
    )
    images = load_images(app)
    assert list(images) == ["tools", "sandbox", "runner", "sandbox_2", "sandbox_3"]
    assert [images[name].steps[-1].packages for name in ("sandbox", "runner", "sandbox_2")] == [
        ("a",),
        ("b",),
        ("c",),
    ]
    assert images["sandbox_3"] is default_image()
