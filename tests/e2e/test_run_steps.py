"""run_commands with secrets, env= and force_build, built for real."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import uuid
from pathlib import Path

from nixbuild.oci.layout import OciLayout

from conftest import payload


def store_refs(path: str) -> list[str]:
    return subprocess.run(["nix-store", "-q", "--references", path], capture_output=True, text=True,
                          check=True).stdout.split()


def layer_path(image_path: str, step: int) -> str:
    return next(p for p in store_refs(image_path) if f"-layer-{step}-" in p)


def grep_tree(paths: list[str], needle: bytes) -> list[str]:
    """Files under ``paths`` whose bytes contain ``needle``."""
    found = []
    for top in paths:
        top_path = Path(top)
        for item in [top_path, *top_path.rglob("*")] if top_path.is_dir() else [top_path]:
            if item.is_file() and not item.is_symlink() and needle in item.read_bytes():
                found.append(str(item))
    return found


def test_a_secret_reaches_its_step_and_nothing_else(cli, tmp_path):
    token = f"tok-{uuid.uuid4().hex}"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "api.env").write_text(f"API_TOKEN={token}\n")
    app = tmp_path / "app.py"
    app.write_text(
        "import nixbuild\n"
        "image = (nixbuild.Image.debian_slim(python_version='3.11')\n"
        "         .run_commands(\"printf %s \\\"$API_TOKEN\\\" | sha256sum | cut -d' ' -f1 > /opt/token.sha256\",\n"
        "                       \"printf %s \\\"$STEP_ONLY\\\" > /opt/step-env\",\n"
        "                       secrets=[nixbuild.Secret.from_name('api')], env={'STEP_ONLY': 'scoped'})\n"
        "         .run_commands('printf %s \"$API_TOKEN$STEP_ONLY\" > /opt/later'))\n")
    env = {"NIXBUILD_SECRETS_DIR": str(secrets)}
    build = cli("build", app, "--json", env=env)
    built = payload(json.loads(build.stdout))[0]

    run = cli("run", app, "--", "sh", "-c", "cat /opt/token.sha256 /opt/step-env; echo; cat /opt/later; echo .",
              env=env)
    assert run.stdout.splitlines() == [hashlib.sha256(token.encode()).hexdigest(), "scoped", "."]

    needle = token.encode()
    assert needle not in (build.stdout + build.stderr + run.stdout + run.stderr).encode()
    assert needle not in (tmp_path / "nixbuild.lock").read_bytes()
    image = built["store_path"]
    derivers = subprocess.run(["nix-store", "-qd", image, *store_refs(image)], capture_output=True, text=True,
                              check=True).stdout.split()
    closure = subprocess.run(["nix-store", "-qR", image, *derivers], capture_output=True, text=True,
                             check=True).stdout.split()
    assert grep_tree(closure, needle) == []
    layout = OciLayout(image)
    manifest = layout.manifest(layout.manifest_descriptor())
    for layer in manifest.layers:
        blob = Path(image) / "blobs" / "sha256" / layer.digest.split(":")[1]
        assert needle not in gzip.decompress(blob.read_bytes())
    specs = Path.home() / ".cache" / "nixbuild" / "specs"
    assert grep_tree([str(specs)] if specs.exists() else [], needle) == []


def test_force_build_rebuilds_that_step_and_later_ones_only(cli, tmp_path):
    app = tmp_path / "app.py"
    marker = uuid.uuid4().hex
    app.write_text(
        "import nixbuild\n"
        "image = (nixbuild.Image.debian_slim(python_version='3.11')\n"
        f"         .run_commands('echo {marker} > /base')\n"
        "         .run_commands('echo forced > /forced', force_build=True)\n"
        "         .run_commands('echo after > /after'))\n")
    first = cli.json("build", app)[0]
    lock = (tmp_path / "nixbuild.lock").read_bytes()
    second = cli.json("build", app)[0]
    assert second["manifest_digest"] == first["manifest_digest"]  # rebuilt, bit for bit the same
    assert (tmp_path / "nixbuild.lock").read_bytes() == lock
    a, b = first["store_path"], second["store_path"]
    # layers: debian_slim's two (Debian packages, pip/wheel/uv), then one per run_commands
    assert all(layer_path(a, i) == layer_path(b, i) for i in (0, 1, 2))
    assert layer_path(a, 3) != layer_path(b, 3) and layer_path(a, 4) != layer_path(b, 4)
    # Every step rebuilt (MODAL_FORCE_BUILD / NIXBUILD_FORCE_BUILD): tests/e2e/test_rebuilds.py.


def test_dockerfile_commands_become_steps(cli, tmp_path):
    context = tmp_path / "ctx"
    (context / "conf").mkdir(parents=True)
    (context / "data.txt").write_text("from the context\n")
    (context / "conf" / "a.ini").write_text("[a]\n")
    (context / "conf" / "skip.log").write_text("ignored\n")
    (context / ".dockerignore").write_text("**/*.log\n")
    app = tmp_path / "app.py"
    app.write_text(
        "import nixbuild\n"
        "image = nixbuild.Image.debian_slim(python_version='3.11').dockerfile_commands([\n"
        "    'ARG WHO=world',\n"
        "    'ENV GREETING=hello',\n"
        "    'WORKDIR /w',\n"
        "    'COPY data.txt ./',\n"
        "    'COPY conf /etc/app/',\n"
        "    'RUN cat data.txt > copied && \\\\',\n"
        "    '    echo \"$GREETING $WHO\" > greeting',\n"
        "    'CMD [\"python3\", \"-V\"]',\n"
        f"], context_dir={str(context)!r})\n")
    built = cli.json("build", app)[0]
    out = cli("run", app, "--", "sh", "-c", "pwd; cat copied greeting; ls /etc/app").stdout
    assert out.splitlines() == ["/w", "from the context", "hello world", "a.ini"]
    layout = OciLayout(built["store_path"])
    config = layout.config(layout.manifest(layout.manifest_descriptor()))
    assert config.config.cmd == ["python3", "-V"] and "GREETING=hello" in config.config.env


RUN_FUNCTION_APP = '''
import modal

ROOT = "/opt/fn"


def helper(n):
    return "x" * n


def build_step(count, name="out"):
    import os

    os.makedirs(ROOT, exist_ok=True)
    with open(f"{ROOT}/{name}", "w") as f:
        f.write(helper(count))


def broken():
    raise RuntimeError("the build function gave up")


image = modal.Image.debian_slim(python_version="3.11").run_function(build_step, args=(3,), kwargs={"name": "made"})
bad = modal.Image.debian_slim(python_version="3.11").run_function(broken)
app = modal.App("fn", image=image)


@app.function()
def main():
    pass
'''


def test_run_function_writes_into_the_image_with_its_module_around_it(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(RUN_FUNCTION_APP)
    cli("build", app, "--image", "image")
    out = cli("run", app, "--image", "image", "--", "sh", "-c", "cat /opt/fn/made; echo; ls -A /root | grep -c app || true").stdout
    assert out == "xxx\n0\n"  # the helper and ROOT came from the module, which is not left behind


def test_a_raising_run_function_shows_its_traceback(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(RUN_FUNCTION_APP)
    proc = cli("build", app, "--image", "bad", ok=False)
    assert proc.returncode == 6
    assert "Traceback" in proc.stderr and "RuntimeError: the build function gave up" in proc.stderr
    assert "step 1 run_function" in proc.stderr


def test_gpu_steps_build_only_where_cuda_is_advertised_and_only_they_see_the_gpu(cli, tmp_path):
    """No GPU here: a stand-in device file proves the mechanism (scheduling by system
    feature, and the pre-build hook exposing devices to gpu= steps only)."""
    fake_device = tmp_path / "nvidia-stand-in"
    fake_device.write_text("gpu\n")
    app = tmp_path / "app.py"
    marker = uuid.uuid4().hex
    app.write_text(
        "import nixbuild\n"
        "image = (nixbuild.Image.debian_slim(python_version='3.11')\n"
        f"         .run_commands('cat /dev/nvidia-test > /opt/seen; echo {marker}', gpu='H100')\n"
        "         .run_commands('test -e /dev/nvidia-test && echo visible > /opt/other || echo absent > /opt/other'))\n")
    refused = cli("build", app, ok=False)
    assert refused.returncode == 6
    assert "step 1 run_commands" in refused.stderr and "cuda" in refused.stderr
    assert "NIXBUILD_SYSTEM_FEATURES" in refused.stderr

    gpu_env = {"NIXBUILD_SYSTEM_FEATURES": "cuda gpu-h100", "NIXBUILD_GPU_PATHS": f"/dev/nvidia-test={fake_device}"}
    cli("build", app, env=gpu_env)
    out = cli("run", app, "--", "cat", "/opt/seen", "/opt/other").stdout
    assert out == "gpu\nabsent\n"
