"""Every eager (definition-time) check, with Modal 1.6.4's exact messages (semantics §10)."""

import re

import pytest

from nixbuild.api import CloudBucketMount, Image, LocalFunctionError, NetworkFileSystem, Secret, Volume
from nixbuild.errors import InvalidError


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture
def image():
    return Image.debian_slim()


def test_float_python_version_is_a_type_error():
    with pytest.raises(TypeError, match=exact("The `python_version` argument should be a string, not a float.")):
        Image.debian_slim(3.11)


@pytest.mark.parametrize("constructor", [Image.debian_slim, Image.micromamba])
def test_non_string_python_version_is_refused_at_definition(constructor):
    # Modal raises this lazily; nixbuild cannot store the value, so it raises it eagerly.
    with pytest.raises(InvalidError, match=exact("Python version must be specified as a string, not int")):
        constructor(3)


@pytest.mark.parametrize(
    ("method", "arg_name"),
    [
        ("pip_install", "packages"),
        ("uv_pip_install", "packages"),
        ("apt_install", "packages"),
        ("micromamba_install", "packages"),
        ("run_commands", "commands"),
        ("dockerfile_commands", "dockerfile_commands"),
    ],
)
@pytest.mark.parametrize("bad", [3, ("a", "b"), [["nested"]], ["ok", 1], None])
def test_non_string_packages_and_commands(image, method, arg_name, bad):
    with pytest.raises(InvalidError, match=exact(f"{method}: {arg_name} must only contain strings")):
        getattr(image, method)("fine", bad)


@pytest.mark.parametrize("method", ["pip_install", "uv_pip_install"])
def test_option_like_packages_are_refused_for_pip_and_uv(image, method):
    message = (
        f"Package list for `Image.{method}` cannot contain other arguments; try the `extra_options` parameter instead."
    )
    with pytest.raises(InvalidError, match=exact(message)):
        getattr(image, method)("numpy", "--pre")


def test_option_like_packages_are_accepted_by_apt(image):
    assert image.apt_install("-y", "git").steps[-1].packages == ("-y", "git")


def test_uv_requirements_groups_and_extras_must_be_lists(image):
    with pytest.raises(InvalidError, match=exact("requirements must be None or a list of strings")):
        image.uv_pip_install("x", requirements="requirements.txt")
    with pytest.raises(InvalidError, match=exact("groups must be None or a list of strings")):
        image.uv_sync(groups="dev")
    with pytest.raises(InvalidError, match=exact("extras must be None or a list of strings")):
        image.uv_sync(extras=("gpu",))


def test_env_values_must_be_strings(image):
    with pytest.raises(InvalidError, match=exact("Image ENV variables must be strings. Invalid keys: ['A', 'C']")):
        image.env({"A": 1, "B": "ok", "C": None})


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("entrypoint", "entrypoint_commands must be a list of strings."),
        ("shell", "shell_commands must be a list of strings."),
        ("cmd", "Image CMD must be a list of strings."),
    ],
)
@pytest.mark.parametrize("bad", ["python app.py", ("python",), ["python", 3]])
def test_entrypoint_shell_and_cmd_take_lists_of_strings(image, method, message, bad):
    with pytest.raises(InvalidError, match=exact(message)):
        getattr(image, method)(bad)


@pytest.mark.parametrize("method", ["add_local_file", "add_local_dir"])
def test_remote_paths_must_be_absolute(image, method):
    with pytest.raises(
        InvalidError, match=exact(f"image.{method}() currently only supports absolute remote_path values")
    ):
        getattr(image, method)("local", "relative/path")


def test_local_python_modules_must_be_strings(image):
    with pytest.raises(InvalidError, match=exact("Local Python modules must be specified as strings.")):
        image.add_local_python_source("ok", 3)


def test_gpu_count_must_be_an_integer(image):
    with pytest.raises(InvalidError, match=exact("Invalid GPU count: two. Value must be an integer.")):
        image.pip_install("x", gpu="H100:two")


def test_gpu_must_be_a_string(image):
    with pytest.raises(InvalidError, match=exact("Invalid GPU config: 1. Value must be a string or `None`")):
        image.apt_install("x", gpu=1)
    with pytest.raises(InvalidError, match=exact("Invalid GPU config: ['T4']. Value must be a string or `None`")):
        image.run_commands("x", gpu=["T4"])  # lists are for run_function and app functions only


def test_secrets_must_be_secret_instances(image):
    with pytest.raises(InvalidError, match=exact("All secrets of an Image need to be modal.Secret instances.")):
        image.pip_install("x", secrets=["hf-token"])
    with pytest.raises(InvalidError, match=exact("All secrets of an Image need to be modal.Secret instances.")):
        image.pip_install("x", secrets=Secret.from_name("not-a-list"))


def test_step_env_must_be_a_str_dict(image):
    message = "the env_dict argument to Secret has to be a dict[str, Union[str, None]], value for key 'A' has type int"
    with pytest.raises(InvalidError, match=exact(message)):
        image.apt_install("git", env={"A": 1})
    # run_commands checks env before noticing it has no commands, as Modal does.
    with pytest.raises(InvalidError, match=exact(message)):
        image.run_commands(env={"A": 1})


def test_private_repos_need_secrets(image):
    message = (
        "No secrets provided to function. "
        "Installing private packages requires tokens to be passed via modal.Secret objects."
    )
    with pytest.raises(InvalidError, match=exact(message)):
        image.pip_install_private_repos("github.com/org/repo", git_user="me")


def test_private_repos_must_be_github_or_gitlab(image):
    message = "2 out of 3 given repository refs are invalid. Invalid refs: ['bitbucket.org/org/a', 'org/b']. "
    with pytest.raises(InvalidError, match=exact(message)):
        image.pip_install_private_repos(
            "github.com/org/ok", "bitbucket.org/org/a", "org/b", git_user="me", secrets=[Secret.from_name("gh")]
        )


def test_run_function_needs_a_function(image):
    with pytest.raises(InvalidError, match=exact("Argument to Image.run_function must be a function, not int.")):
        image.run_function(3)


def test_run_function_refuses_lambdas(image):
    with pytest.raises(InvalidError, match=exact("Image.run_function does not support lambda functions.")):
        image.run_function(lambda: None)


def test_run_function_refuses_local_functions(image):
    def local():
        pass

    message = "Modal can only import functions defined in global scope unless they are `serialized=True`"
    with pytest.raises(LocalFunctionError, match=exact(message)):
        image.run_function(local)
    assert issubclass(LocalFunctionError, InvalidError)


def test_run_function_arguments_are_limited_to_2_mib(image):
    with pytest.raises(
        InvalidError,
        match=r"^Arguments to `run_function` are too large \(\d+ bytes\)\. Maximum size is 2097152 bytes\.$",
    ):
        image.run_function(global_builder, args=("x" * (2 * 1024 * 1024 + 1),))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/data/../x", "Volume /data/../x must be a canonical, absolute path."),
        ("data", "Volume data must be a canonical, absolute path."),
        ("/", "Volume / cannot be mounted into root directory."),
        ("/root", "Volume /root cannot be mounted at '/root'."),
        ("/tmp", "Volume /tmp cannot be mounted at '/tmp'."),
    ],
)
def test_volume_paths(image, path, message):
    with pytest.raises(InvalidError, match=exact(message)):
        image.run_commands("ls", volumes={path: Volume.from_name("v")})


def test_one_volume_cannot_be_mounted_twice(image):
    volume = Volume.from_name("v")
    message = "The same Volume cannot be mounted in multiple locations for the same function: /a, /b"
    with pytest.raises(InvalidError, match=exact(message)):
        image.run_function(global_builder, volumes={"/a": volume, "/b": volume})


def test_volumes_must_be_volumes(image):
    with pytest.raises(
        InvalidError, match=exact("Object of type <class 'int'> mounted at '/a' is not usable as a volume.")
    ):
        image.run_function(global_builder, volumes={"/a": 3})


def test_run_commands_only_takes_modal_volumes(image):
    with pytest.raises(InvalidError, match=exact("Image.run_commands only supports volumes that are modal.Volume")):
        image.run_commands("ls", volumes={"/bucket": CloudBucketMount("my-bucket")})
    # run_function accepts bucket mounts and network file systems.
    step = image.run_function(
        global_builder,
        volumes={"/bucket": CloudBucketMount("my-bucket")},
        network_file_systems={"/nfs": NetworkFileSystem.from_name("shared")},
    ).steps[-1]
    assert step.volumes["/bucket"].bucket_name == "my-bucket"
    assert step.network_file_systems["/nfs"].name == "shared"


def test_cloud_registry_constructors_refuse_a_secrets_list():
    message = "Passing a list of 'secrets' is not supported; use the singular 'secret' argument."
    with pytest.raises(TypeError, match=exact(message)):
        Image.from_aws_ecr("x", secrets=[])
    with pytest.raises(TypeError, match=exact(message)):
        Image.from_gcp_artifact_registry("x", secrets=[])


def test_wrong_types_the_checks_let_through_are_reported_as_invalid(image):
    with pytest.raises(InvalidError, match=r"^Image\.pip_install: invalid `find_links`"):
        image.pip_install("x", find_links=3)


def test_python_version_format_is_checked_lazily():
    # Modal accepts these at definition time and fails at build (python_series, see test_steps).
    assert Image.debian_slim("py3").steps[0].python_version == "py3"
    assert Image.debian_slim("3.13t").steps[0].python_version == "3.13t"
    assert Image.from_registry("ubuntu", add_python="3.12.1").steps[0].add_python == "3.12.1"


def global_builder():
    pass
