"""secrets=, env= and add_local_dir(".") in one app: the values reach their step and nothing else.

After a real build, every file of the image's closure and of its derivations' closure (every
.drv the build wrote), every layer (gunzipped), the spec (`nixbuild plan` and the spec cache),
the lock and the logs (the CLI's stdout/stderr, `nix-store --read-log` of the step) are searched
for each value. The step writes the sha256 of each value into the image, so the test fails if
the values were simply dropped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

from nixbuild.oci.layout import OciLayout

from conftest import files_holding, payload
from tests.servers import serve_folder_with_login

APP = """\
import os
import nixbuild

image = (nixbuild.Image.debian_slim(python_version='3.11')
         .run_commands("printf %s \\"$API_TOKEN\\" | sha256sum | cut -d' ' -f1 > /opt/secret.sha256",
                       "printf %s \\"$STEP_ONLY\\" | sha256sum | cut -d' ' -f1 > /opt/env.sha256",
                       secrets=[nixbuild.Secret.from_name('api')],
                       env={'STEP_ONLY': os.environ['E2E_STEP_VALUE']})  # the value is not in this file
         .add_local_dir('.', '/app', copy=True, ignore=['nixbuild.lock', 'plan']))
"""


def nix_lines(*args: str) -> list[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout.split()


def grep(paths: list[str], needles: list[str]) -> list[str]:
    """Files under ``paths`` (links not followed) holding any needle: grep, fast on a closure."""
    proc = subprocess.run(["grep", "-rlF", *(f"-e{n}" for n in needles), "--", *paths],
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout.split()


def layers(image: str) -> dict[str, bytes]:
    """Every file of every layer, by path (gunzipped and unpacked)."""
    layout = OciLayout(image)
    files: dict[str, bytes] = {}
    for layer in layout.manifest(layout.manifest_descriptor()).layers:
        blob = gzip.decompress((Path(image) / "blobs" / "sha256" / layer.digest.split(":")[1]).read_bytes())
        files[f"layer {layer.digest}"] = blob
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    files[member.name] = tar.extractfile(member).read()
    return files


def test_secret_and_env_values_reach_the_step_and_are_never_stored(cli, tmp_path):
    secret_value, env_value = f"sec-{uuid.uuid4().hex}", f"env-{uuid.uuid4().hex}"
    needles = [secret_value, env_value]
    (tmp_path / ".nixbuild" / "secrets").mkdir(parents=True)
    (tmp_path / ".nixbuild" / "secrets" / "api.env").write_text(f"API_TOKEN={secret_value}\n")
    (tmp_path / "app.py").write_text(APP)
    env = {"E2E_STEP_VALUE": env_value}

    build = cli("build", "app.py", "--json", cwd=tmp_path, env=env)
    image = payload(json.loads(build.stdout))[0]["store_path"]
    plan = cli("plan", "app.py", "-o", "plan", cwd=tmp_path, env=env)

    # The values did reach the step: it wrote their hashes into the image.
    files = layers(image)
    assert files["opt/secret.sha256"].decode().strip() == hashlib.sha256(secret_value.encode()).hexdigest()
    assert files["opt/env.sha256"].decode().strip() == hashlib.sha256(env_value.encode()).hexdigest()
    assert "app/app.py" in files
    assert not [name for name in files if ".nixbuild" in name]  # the secrets folder never enters a tree

    # ... and nowhere else: layers, the store, every .drv, the spec, the lock, the logs.
    assert [name for name, data in files.items() if any(n.encode() in data for n in needles)] == []
    derivers = nix_lines("nix-store", "-qd", image, *nix_lines("nix-store", "-qR", image))
    derivers = [d for d in derivers if d.endswith(".drv")]
    drv_closure = nix_lines("nix-store", "-qR", *derivers)
    assert len([p for p in drv_closure if p.endswith(".drv")]) > 10
    assert grep(nix_lines("nix-store", "-qR", image) + drv_closure, needles) == []
    step_drv = next(d for d in derivers if "-layer-2-1-run_commands" in d)
    step_log = subprocess.run(["nix-store", "--read-log", step_drv], capture_output=True, text=True, check=True)
    assert "nixbuild: RUN [2/2]" in step_log.stdout + step_log.stderr  # the log that was searched is there
    specs = Path.home() / ".cache" / "nixbuild" / "specs"
    assert grep([str(tmp_path / "plan"), str(tmp_path / "nixbuild.lock"), *([str(specs)] if specs.exists() else [])],
                needles) == []
    logs = build.stdout + build.stderr + plan.stdout + plan.stderr + step_log.stdout + step_log.stderr
    assert not [n for n in needles if n in logs]

    # The history names the env= key, never its value.
    layout = OciLayout(image)
    config = layout.config(layout.manifest(layout.manifest_descriptor()))
    history = " ".join(h.created_by or "" for h in config.history)
    assert "Secret.from_name('api'), Secret.from_dict([STEP_ONLY])" in history
    assert not [n for n in needles if n in history]

    # Through a Nix daemon the step would run without its secrets: refused before building.
    refused = cli("build", "app.py", cwd=tmp_path, env={**env, "NIX_REMOTE": "daemon"}, ok=False)
    assert refused.returncode == 6 and "daemon" in refused.stderr and "Traceback" not in refused.stderr
    assert "step 1 run_commands" in refused.stderr


def test_a_pip_step_s_index_login_comes_from_its_secret_and_is_kept_nowhere(cli, tmp_path):
    """A private index on 127.0.0.1 that wants a login (PEP 503 layout, the wheel of six taken
    from the configured index by pip). PIP_INDEX_URL in the step's secret carries the login,
    as Modal apps write it: uv resolves with it, the CLI downloads the wheel with it, and the
    lock, the cache, the image's derivations and the output never hold the password."""
    index = tmp_path / "index"
    files = index / "files"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "six==1.17.0", "-d", str(files)], check=True, capture_output=True)
    (wheel,) = files.iterdir()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (index / "simple" / "six").mkdir(parents=True)
    (index / "simple" / "index.html").write_text('<a href="six/">six</a>\n')
    (index / "simple" / "six" / "index.html").write_text(
        f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>\n')
    password = "tok-" + uuid.uuid4().hex
    app = tmp_path / "app" / "app.py"
    app.parent.mkdir()
    app.write_text("import modal\n\nimage = modal.Image.debian_slim(python_version='3.11').pip_install(\n"
                   "    'six', secrets=[modal.Secret.from_local_environ(['PIP_INDEX_URL'])])\n"
                   "app = modal.App('private-index', image=image)\n")
    cache = tmp_path / "cache"
    with serve_folder_with_login(index, "builder", password) as url:
        env = {"PIP_INDEX_URL": url.replace("http://", f"http://builder:{password}@") + "/simple",
               "NIXBUILD_CACHE_DIR": str(cache)}
        built = cli("build", app, env=env)
        ran = cli("run", app, "--", "python", "-c", "import six; print(six.__version__)", env=env)
    assert ran.stdout == "1.17.0\n"
    steps = json.loads((app.parent / "nixbuild.lock").read_text())["images"]["image"]["steps"]
    (pin,) = steps[1]["wheels"]
    assert pin["url"] == f"{url}/files/{wheel.name}" and pin["sha256"] == digest  # no login in the lock
    assert not files_holding(password, app, cache)
    assert password not in built.stdout + built.stderr + ran.stderr
