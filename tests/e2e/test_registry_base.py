"""from_registry: a base image from a registry, pinned by digest, its layers reused unchanged.

The registries are Debian's docker-registry on 127.0.0.1, holding images the tests push
themselves: the quickstart image nixbuild built (the session's), and a CUDA-shaped stand-in
made from it with umoci (a layer of /usr/local/cuda files and CUDA's Env, Cmd and Labels),
since no public registry is reachable from these machines. The oracles are skopeo's view of
what the registry holds (digests, layers, config) and the image run by `nixbuild run`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from conftest import EXAMPLES, files_holding, running_registry, umoci_bundle

CUDA_ENV = ["CUDA_HOME=/usr/local/cuda", "CUDA_VERSION=12.4.1", "NVIDIA_VISIBLE_DEVICES=all"]


def skopeo_json(*args: str) -> dict:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def push(layout: str, ref: str, destination: str, *creds: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *creds, f"oci:{layout}:{ref}",
                    f"docker://{destination}"], check=True, capture_output=True)


def cuda_stand_in(quickstart_layout: str, work: Path) -> Path:
    """An OCI layout (tag ``cuda``) of the quickstart image plus a CUDA-shaped layer, made with
    umoci (an independent tool), with the config a CUDA runtime image has."""
    layout, bundle = work / "cuda-layout", work / "bundle"
    cuda = umoci_bundle(quickstart_layout, layout, bundle) / "usr" / "local" / "cuda"
    (cuda / "lib64").mkdir(parents=True)
    (cuda / "version.json").write_text('{"cuda": {"version": "12.4.1"}}\n')
    (cuda / "lib64" / "libcudart.so.12").write_bytes(b"\x7fELF stand-in\n")
    subprocess.run(["umoci", "repack", "--image", f"{layout}:cuda", str(bundle)], check=True, capture_output=True)
    config = ["umoci", "config", "--image", f"{layout}:cuda", "--config.cmd", "bash",
              "--config.label", "com.nvidia.cudnn.version=stand-in", "--config.workingdir", "/"]
    for item in CUDA_ENV:
        config += ["--config.env", item]
    subprocess.run(config, check=True, capture_output=True)
    return layout


@pytest.fixture(scope="module")
def bases(quickstart, tmp_path_factory):
    """A registry on 127.0.0.1 holding the quickstart image (base/quickstart:v1) and the CUDA
    stand-in (stand-in/cuda:12.4.1-runtime); yields their references and the registry's root."""
    root = tmp_path_factory.mktemp("registry-bases")
    layout = quickstart["built"]["layout"]
    stand_in = cuda_stand_in(layout, root)
    with running_registry(root) as address:
        push(layout, "latest", f"{address}/base/quickstart:v1")
        push(str(stand_in), "cuda", f"{address}/stand-in/cuda:12.4.1-runtime")
        yield {"quickstart": f"{address}/base/quickstart:v1", "cuda": f"{address}/stand-in/cuda:12.4.1-runtime"}


def write_app(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    app = folder / "app.py"
    app.write_text("import modal\n\n" + body + "\napp = modal.App('registry', image=image)\n")
    return app


def test_the_tag_is_pinned_by_digest_and_the_base_layers_are_reused_unchanged(cli, bases, tmp_path):
    tag = bases["quickstart"]
    app = write_app(tmp_path / "app", f"""image = (
    modal.Image.from_registry({tag!r})
    .env({{"STAGE": "two"}})
    .run_commands("echo built-on-base > /on-base.txt")
    .pip_install("six")
)""")
    (built,) = cli.json("build", app)
    remote = skopeo_json("inspect", "--tls-verify=false", f"docker://{tag}")
    pinned = json.loads((app.parent / "nixbuild.lock").read_text())["images"]["image"]["steps"][0]["registry"]
    assert pinned["manifest"] == remote["Digest"] and pinned["reference"] == tag
    assert [layer["digest"] for layer in pinned["layers"]] == remote["Layers"]
    assert pinned["facts"] == {"glibc": "2.36", "python": "3.11", "dpkg": True, "dpkg_layer": 2, "os_id": "debian",
                               "os_version": "bookworm"}
    # The image: the base's layer blobs first, unchanged, then one layer per build step.
    image = skopeo_json("inspect", f"oci:{built['layout']}:latest")
    assert image["Layers"][:3] == remote["Layers"] and len(image["Layers"]) == 5
    config = skopeo_json("inspect", "--config", f"oci:{built['layout']}:latest")["config"]
    assert config["Env"] == [*remote["Env"], "STAGE=two"] and config["WorkingDir"] == "/app"
    (entry,) = cli.json("inspect", app)
    assert entry["base"] == {"step": 0, "reference": tag, "manifest_digest": remote["Digest"], "layers": 3}
    ran = cli("run", app, "--", "sh", "-c", 'cat /on-base.txt; echo "$GREETING $STAGE"; jq --version; '
              'python3 -c "import six; print(six.__version__)"')
    assert ran.stdout.split("\n")[:3] == ["built-on-base", "hello two", "jq-1.6"], ran.stdout


def test_apt_install_on_a_debian_base_resolves_against_its_own_dpkg_status(cli, bases, tmp_path):
    """The quickstart base already has curl and jq (and libc6, which tree needs): apt adds tree
    alone, and dpkg in the image knows both the base's packages and the new one."""
    app = write_app(tmp_path / "app", f"image = modal.Image.from_registry({bases['quickstart']!r}).apt_install('tree')")
    cli.json("build", app)
    steps = json.loads((app.parent / "nixbuild.lock").read_text())["images"]["image"]["steps"]
    assert [p["name"] for p in steps[1]["packages"]] == ["tree"]
    ran = cli("run", app, "--", "sh", "-c", "tree --version >/dev/null && dpkg-query -W -f '${Package} ${Status}\\n' "
                                            "tree jq curl libc6")
    assert sorted(ran.stdout.splitlines()) == [f"{p} install ok installed" for p in ("curl", "jq", "libc6", "tree")]


def test_an_unchanged_lock_builds_without_the_registry(cli, quickstart, tmp_path_factory, tmp_path):
    """The blobs the lock pins come from nixbuild's cache: `check` rebuilds the image in an
    empty store with the registry gone."""
    root = tmp_path_factory.mktemp("gone-registry")
    with running_registry(root) as address:
        push(quickstart["built"]["layout"], "latest", f"{address}/base/gone:v1")
        app = write_app(tmp_path / "app", f"image = modal.Image.from_registry('{address}/base/gone:v1')"
                                          ".run_commands('echo offline > /offline.txt')")
        (built,) = cli.json("build", app)
    (checked,) = cli.json("check", app)
    assert checked["ok"] and checked["manifest_digest"] == built["manifest_digest"]


def test_the_cuda_pattern_from_registry_with_add_python(cli, bases, standalone, tmp_path):
    """examples/registry_cuda: the CUDA stand-in with python-build-standalone's Python added
    (the stand-in archive: tests/e2e/standalone_mirror.py), as Modal's add_python does."""
    folder = tmp_path / "registry_cuda"
    shutil.copytree(EXAMPLES / "registry_cuda", folder)
    env = {**standalone["env"], "CUDA_BASE": bases["cuda"]}
    (built,) = cli.json("build", folder / "app.py", env=env)
    lock = json.loads((folder / "nixbuild.lock").read_text())["images"]["image"]["steps"]
    assert lock[0]["standalone"]["filename"] == standalone["archive"].name
    assert {w["name"] for w in lock[0]["wheels"]} >= {"pip", "wheel", "uv"}
    config = skopeo_json("inspect", "--config", f"oci:{built['layout']}:latest")["config"]
    assert set(CUDA_ENV) <= set(config["Env"]) and "APP_STAGE=gpu" in config["Env"]
    assert any(item.startswith("TERMINFO_DIRS=") for item in config["Env"])
    assert config["Cmd"] == ["bash"] and config["Labels"] == {"com.nvidia.cudnn.version": "stand-in"}
    ran = cli("run", folder / "app.py", "--", "sh", "-c",
              'command -v python3; cat /usr/local/cuda/version.json; python3 -c "import six; print(six.__version__)"',
              env=env)
    lines = ran.stdout.splitlines()
    assert lines[0] == "/usr/local/bin/python3" and "12.4.1" in lines[1], ran.stdout


def _htpasswd(user: str, password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # crypt: the one bcrypt in the stdlib
        import crypt
        return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"


def test_a_private_registry_takes_the_secret_and_keeps_it_out_of_everything(cli, quickstart, tmp_path_factory,
                                                                               tmp_path):
    password = "pw-" + tmp_path.name.replace("_", "-")[-12:] + "-s3cret"
    root = tmp_path_factory.mktemp("private-registry")
    with running_registry(root, htpasswd=_htpasswd("builder", password)) as address:
        tag = f"{address}/private/base:v1"
        push(quickstart["built"]["layout"], "latest", tag, f"--dest-creds=builder:{password}")
        app = write_app(tmp_path / "app", f"""image = modal.Image.from_registry(
    {tag!r},
    secret=modal.Secret.from_local_environ(["REGISTRY_USERNAME", "REGISTRY_PASSWORD"]),
).run_commands("echo private > /private.txt")""")
        wrong = cli("build", app, env={"REGISTRY_USERNAME": "builder", "REGISTRY_PASSWORD": "wrong"}, ok=False)
        assert wrong.returncode == 9 and "step 0 from_registry" in wrong.stderr, wrong.stderr
        assert "unauthorized" in wrong.stderr.lower() or "authentication" in wrong.stderr.lower(), wrong.stderr
        cache = tmp_path / "cache"  # its own cache: the build pulls the blobs with the login too
        env = {"REGISTRY_USERNAME": "builder", "REGISTRY_PASSWORD": password, "NIXBUILD_CACHE_DIR": str(cache)}
        built = cli("build", app, env=env)
        ran = cli("run", app, "--", "cat", "/private.txt", env=env)
    assert ran.stdout == "private\n"
    # Nowhere it could be kept: lock, specs and cache, the image's derivations, the output.
    assert not files_holding(password, app, cache) and password not in built.stdout + built.stderr + ran.stderr


def test_a_two_stage_dockerfile_copies_from_its_build_stage(cli, bases, tmp_path):
    """examples/dockerfile: ARG before FROM (a build arg picks the base of both stages), a
    build stage with COPY from the context and a RUN, then COPY --from=build, ENV, WORKDIR,
    LABEL, EXPOSE and CMD in the image's own stage."""
    folder = tmp_path / "dockerfile"
    shutil.copytree(EXAMPLES / "dockerfile", folder)
    env = {"DOCKERFILE_BASE": bases["quickstart"]}
    (built,) = cli.json("build", folder / "app.py", env=env)
    assert built["base"]["reference"] == bases["quickstart"]
    lock = json.loads((folder / "nixbuild.lock").read_text())["images"]
    assert set(lock) == {"image", "image.build"}  # the stage is locked as a chain of its own
    remote = skopeo_json("inspect", "--tls-verify=false", f"docker://{bases['quickstart']}")
    layers = skopeo_json("inspect", f"oci:{built['layout']}:latest")["Layers"]
    assert layers[:3] == remote["Layers"] and len(layers) == 5  # the base, then the two COPY --from
    config = skopeo_json("inspect", "--config", f"oci:{built['layout']}:latest")["config"]
    assert "APP_HOME=/srv/app" in config["Env"] and "GREETING=hello" in config["Env"]  # the base's Env kept
    assert (config["WorkingDir"], config["Cmd"], config["ExposedPorts"]) == ("/srv/app", ["python3", "/srv/app/main.py"],
                                                                             {"8000/tcp": {}})
    assert config["Labels"] == {"org.opencontainers.image.title": "nixbuild dockerfile example"}
    ran = cli("run", folder / "app.py", env=env)
    assert ran.stdout == "hi from a Dockerfile in /srv/app\n", ran.stdout + ran.stderr
    # Only what COPY --from took: the build stage's /src stays in the stage.
    ran = cli("run", folder / "app.py", "--", "sh", "-c", "ls /srv/app/__pycache__ | wc -l; test -e /src || echo no-src",
              env=env)
    assert ran.stdout.split() == ["1", "no-src"], ran.stdout


def _two_platform_layout(quickstart_layout: str, into: Path) -> Path:
    """An OCI layout whose tag is an image index: an arm64 entry first (the same layers under a
    config that says arm64), then the quickstart image as linux/amd64."""
    layout = into / "multi"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{quickstart_layout}:latest", f"oci:{layout}:amd64"],
                   check=True, capture_output=True)
    blobs = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    (amd64,) = index["manifests"]
    manifest = json.loads((blobs / amd64["digest"].removeprefix("sha256:")).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].removeprefix("sha256:")).read_bytes())

    def blob(value: dict) -> dict:
        data = json.dumps(value).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    arm_config = blob({**config, "architecture": "arm64"})
    arm = blob({**manifest, "config": {**manifest["config"], **arm_config}})
    entries = [{"mediaType": manifest["mediaType"], **arm, "platform": {"os": "linux", "architecture": "arm64"}},
               {"mediaType": manifest["mediaType"], "digest": amd64["digest"], "size": amd64["size"],
                "platform": {"os": "linux", "architecture": "amd64"}}]
    image_index = blob({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries})
    index["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json", **image_index,
                           "annotations": {"org.opencontainers.image.ref.name": "multi"}}]
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def test_an_index_tag_is_pinned_to_its_linux_amd64_manifest(cli, quickstart, bases, tmp_path):
    layout = _two_platform_layout(quickstart["built"]["layout"], tmp_path)
    registry = bases["quickstart"].split("/", 1)[0]
    subprocess.run(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi",
                    f"docker://{registry}/base/multi:1"], check=True, capture_output=True)
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                     f"docker://{registry}/base/multi:1"], capture_output=True, text=True,
                                    check=True).stdout)
    amd64 = next(m["digest"] for m in raw["manifests"] if m["platform"]["architecture"] == "amd64")
    app = write_app(tmp_path / "app", f"image = modal.Image.from_registry('{registry}/base/multi:1')")
    cli.json("lock", app)
    pinned = json.loads((app.parent / "nixbuild.lock").read_text())["images"]["image"]["steps"][0]["registry"]
    assert pinned["manifest"] == amd64 == quickstart["built"]["manifest_digest"]
