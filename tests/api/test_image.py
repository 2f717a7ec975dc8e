"""Image: immutability, chaining, force_build inheritance, empty-argument identity, helpers."""

import warnings

import pytest
from pydantic import ValidationError

from nixbuild.api import Image, Secret, steps
from nixbuild.api.python_version import local_python_version
from nixbuild.errors import InvalidError


def test_each_method_returns_a_new_image_and_leaves_the_old_one_unchanged():
    base = Image.debian_slim("3.12")
    with_git = base.apt_install("git")
    with_numpy = base.pip_install("numpy")

    assert [s.kind for s in base.steps] == ["debian_slim"]
    assert [s.kind for s in with_git.steps] == ["debian_slim", "apt_install"]
    assert [s.kind for s in with_numpy.steps] == ["debian_slim", "pip_install"]
    # Branches share their parent's step objects: images form a DAG.
    assert with_git.steps[0] is base.steps[0] is with_numpy.steps[0]


def test_images_and_steps_cannot_be_mutated():
    image = Image.debian_slim().apt_install("git")
    with pytest.raises(AttributeError):
        image._steps = ()
    with pytest.raises(AttributeError):
        image.anything = 1
    with pytest.raises(ValidationError, match="frozen"):
        image.steps[1].packages = ("curl",)
    assert image.steps[1].packages == ("git",)


def test_caller_dicts_are_copied_into_steps():
    env = {"A": "1"}
    image = Image.debian_slim().env(env)
    env["A"] = "changed"
    assert image.steps[-1].vars == {"A": "1"}


def test_image_has_no_public_constructor():
    with pytest.raises(InvalidError, match="Class Image has no constructor"):
        Image()


def test_calling_a_method_on_the_class_gives_modals_message():
    with pytest.raises(
        InvalidError,
        match=r"^Image has not been constructed yet\. Use one of the static factory methods prior to calling "
        r"pip_install like `modal\.Image\.debian_slim`, `modal\.Image\.from_registry`, or `modal\.Image\.micromamba`$",
    ):
        Image.pip_install("numpy")


def test_debian_slim_records_the_version_as_given_and_resolved():
    explicit = Image.debian_slim("3.12.3").steps[0]
    assert (explicit.python_version, explicit.python_version_resolved) == ("3.12.3", "3.12.3")
    default = Image.debian_slim().steps[0]
    assert default.python_version is None
    assert default.python_version_resolved == local_python_version()


def test_pip_and_uv_packages_are_sorted_apt_and_micromamba_keep_order():
    image = (
        Image.debian_slim()
        .pip_install("numpy", ["attrs>=23", "Django"])
        .uv_pip_install("zzz", "aaa")
        .apt_install("zlib1g", "curl")
        .micromamba_install("pytorch", "cudatoolkit=11.8", channels=["pytorch", "conda-forge"])
    )
    pip, uv, apt, mamba = image.steps[1:]
    assert pip.packages == ("Django", "attrs>=23", "numpy")  # Python's sort, as Modal's
    assert uv.packages == ("aaa", "zzz")
    assert apt.packages == ("zlib1g", "curl")
    assert mamba.packages == ("pytorch", "cudatoolkit=11.8")
    assert mamba.channels == ("pytorch", "conda-forge")


@pytest.mark.parametrize(
    "extend",
    [
        lambda i: i.pip_install(),
        lambda i: i.pip_install([]),
        lambda i: i.apt_install(),
        lambda i: i.apt_install([], []),
        lambda i: i.run_commands(),
        lambda i: i.dockerfile_commands([]),
        lambda i: i.uv_pip_install(),
        lambda i: i.uv_pip_install(requirements=[]),
        lambda i: i.micromamba_install(),
    ],
)
def test_empty_package_lists_return_the_same_image(extend):
    image = Image.debian_slim()
    assert extend(image) is image


def test_non_empty_alternatives_still_add_a_step():
    image = Image.micromamba()
    assert image.uv_pip_install(requirements=["req.txt"]) is not image
    assert image.micromamba_install(spec_file="env.yml").steps[-1].spec_file == "env.yml"


def test_force_build_is_inherited_by_later_steps():
    image = Image.debian_slim().apt_install("git").pip_install("transformers", force_build=True)
    assert [s.force_build for s in image.steps] == [False, False, True]
    later = image.run_commands("echo 1").uv_pip_install("x").entrypoint(["python"]).dockerfile_commands("RUN true")
    assert all(step.force_build for step in later.steps[2:])
    assert later.force_build


def test_force_build_on_the_base_is_inherited():
    image = Image.debian_slim(force_build=True).apt_install("git").cmd(["bash"]).shell(["/bin/sh", "-c"])
    assert all(step.force_build for step in image.steps)


@pytest.mark.parametrize(
    "reset",
    [
        lambda i: i.env({"A": "1"}),
        lambda i: i.workdir("/app"),
        lambda i: i.add_local_file("a.txt", "/a.txt"),
        lambda i: i.add_local_file("a.txt", "/a.txt", copy=True),
        lambda i: i.add_local_dir("src", "/src"),
        lambda i: i.add_local_python_source("pkg", copy=True),
    ],
)
def test_env_workdir_and_add_local_reset_force_build(reset):
    forced = Image.debian_slim().pip_install("x", force_build=True)
    image = reset(forced)
    assert not image.force_build
    assert image.apt_install("git").steps[-1].force_build is False


def test_add_local_file_appends_the_basename_to_a_directory_remote_path():
    step = Image.debian_slim().add_local_file("conf/settings.yaml", "/app/").steps[-1]
    assert (step.local_path, step.remote_path) == ("conf/settings.yaml", "/app/settings.yaml")


def test_local_paths_are_stored_as_given():
    from pathlib import Path

    image = (
        Image.debian_slim()
        .pip_install_from_requirements(Path("reqs/requirements.txt"))
        .add_local_dir(Path("~/data"), "/data")
        .uv_sync()
    )
    assert image.steps[1].requirements_txt == "reqs/requirements.txt"
    assert image.steps[2].local_path == "~/data"
    assert image.steps[3].uv_project_dir == "./"


def test_step_env_is_a_secret_after_the_step_secrets_as_in_modal():
    given = Secret.from_name("api")
    step = Image.debian_slim().run_commands("make", env={"CC": "gcc", "UNSET": None}, secrets=[given]).steps[-1]
    assert isinstance(step, steps.RunCommands)
    assert step.env == {}  # nothing of env= is a field, so nothing of it is serialized
    assert step.secrets[0] is given
    assert step.secrets[1].model_dump() == {"kind": "dict", "keys": ("CC",)}
    assert step.secrets[1].resolve() == {"CC": "gcc"}
    assert "gcc" not in step.model_dump_json() + steps.describe_step(step)
    assert "CC" in steps.describe_step(step)  # the history line names the key
    assert Image.debian_slim().run_commands("make", env={}).steps[-1].secrets == ()


def test_registry_constructors_record_the_auth_kind():
    secret = Secret.from_name("creds")
    assert Image.from_registry("python:3.12").steps[0].registry_auth is None
    assert Image.from_registry("org/app:1", secret=secret).steps[0].registry_auth == "static"
    assert Image.from_aws_ecr("1.dkr.ecr.x/app:1", secret=secret).steps[0].registry_auth == "aws"
    gcp = Image.from_gcp_artifact_registry("x-docker.pkg.dev/p/r/i:t", secret=secret, add_python="3.12").steps[0]
    assert (gcp.registry_auth, gcp.registry_secret, gcp.add_python) == ("gcp", secret, "3.12")
    with_secrets = Image.from_registry("python:3.12", secrets=[secret]).steps[0]
    assert with_secrets.secrets == (secret,)


def test_from_registry_rejects_unknown_keyword_arguments():
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        Image.from_registry("python:3.12", bogus=1)


def test_pipe_applies_a_recipe():
    def with_tools(image, *tools, pre=False):
        return image.apt_install(*tools).pip_install("black", pre=pre)

    image = Image.debian_slim().pipe(with_tools, "git", "curl", pre=True)
    assert image.steps[1].packages == ("git", "curl")
    assert image.steps[2].pre is True


def test_imports_swallows_errors_locally_like_modal():
    image = Image.debian_slim()
    with image.imports():
        import nixbuild_package_that_does_not_exist  # noqa: F401
    assert isinstance(image.inside_exceptions[0], ImportError)

    with pytest.warns(UserWarning, match="non-ImportError exception"), image.imports():
        raise ValueError("boom")
    assert isinstance(image.inside_exceptions[1], ValueError)


def test_imports_does_not_warn_for_import_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Image.debian_slim().imports():
            raise ModuleNotFoundError("torch")


def test_server_only_methods_say_what_to_do():
    with pytest.raises(InvalidError, match="nixbuild build"):
        Image.debian_slim().build()
    with pytest.raises(InvalidError, match="Modal's servers"):
        Image.from_id("im-123")
    with pytest.raises(InvalidError, match="published on Modal's servers"):
        Image.from_name("my-image")


def test_repr_lists_the_steps_without_defaults():
    image = Image.debian_slim("3.12").pip_install("numpy", secrets=[Secret.from_name("hf")], gpu="h100:2")
    assert repr(image) == (
        "Image(\n"
        "  debian_slim(python_version='3.12', python_version_resolved='3.12'),\n"
        "  pip_install(secrets=(Secret.from_name('hf'),), gpu=GpuSpec('H100', count=2), packages=('numpy',)),\n"
        ")"
    )


def test_run_function_records_identity_not_the_object():
    image = Image.debian_slim().run_function(_module_level_builder, args=(1,), kwargs={"k": "v"}, gpu=["a10g", "t4:2"])
    step = image.steps[-1]
    assert step.function_name == "_module_level_builder"
    assert step.module == __name__
    assert step.module_file == "test_image.py"
    assert step.source.startswith("def _module_level_builder(")
    assert step.referenced_globals == {"BUILD_TARGET": "/models"}
    assert step.gpu.type == "A10G" and [g.model_dump() for g in step.gpu_fallbacks] == [{"type": "T4", "count": 2}]
    assert step.function is _module_level_builder
    assert "function" not in step.model_dump()

    import base64
    import pickle

    assert pickle.loads(base64.b64decode(step.arguments_pickle)) == ((1,), {"k": "v"})
    assert Image.debian_slim().run_function(_module_level_builder).steps[-1].arguments_pickle is None


BUILD_TARGET = "/models"


def _module_level_builder(x=0, k=None):
    return (BUILD_TARGET, x, k, len)
