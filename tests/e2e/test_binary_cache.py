"""Two machines, one digest, through a binary cache (issue 12, parts 1 and 4).

Store A is the default store, where the session's quickstart was built. `nixbuild cache push`
copies what its image needs to a signed file:// cache; then empty chroot stores (`--store`),
each with an empty nixbuild cache directory and every mirror and proxy pointed at a port that
refuses connections, build the same manifest digest from that cache alone: once as file://,
once served over HTTP on 127.0.0.1. `--expect` compares a build with the digest recorded on
"machine A": equal passes, different exits 7 naming both (build and check)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.servers import serve_folder
from tests.e2e.test_lock_protection import OFF, copy_quickstart


def offline(cache_dir: Path, substituter: str, public_key: str) -> dict[str, str]:
    """A second machine: its own nixbuild cache, no mirror, no index, no proxy that works."""
    env = {"NIXBUILD_CACHE_DIR": str(cache_dir), "NIXBUILD_DEBIAN_MIRROR": OFF,
           "NIXBUILD_DEBIAN_SECURITY_MIRROR": OFF, "UV_INDEX_URL": OFF, "PIP_INDEX_URL": OFF,
           "NIXBUILD_SUBSTITUTERS": substituter, "NIXBUILD_TRUSTED_PUBLIC_KEYS": public_key,
           "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"}
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = OFF  # a wheel's fixed-output fetch from the package index fails too
    return env


def test_a_second_store_builds_the_same_digest_from_the_cache_alone(quickstart, cli, tmp_path):
    app = copy_quickstart(quickstart, tmp_path / "qs")
    digest = quickstart["built"]["manifest_digest"]
    keys = tmp_path / "keys"
    keys.mkdir()
    subprocess.run(["nix-store", "--generate-binary-cache-key", "nixbuild-test-1", keys / "secret", keys / "public"],
                   check=True)
    public_key = (keys / "public").read_text().strip()

    cache = tmp_path / "binary-cache"
    start = time.monotonic()
    pushed = cli.json("cache", "push", app, f"file://{cache}", "--sign-key", keys / "secret")
    print(f"cache push: {time.monotonic() - start:.1f}s, {pushed['paths']} paths")
    assert pushed["images"] == {"image": digest} and pushed["signed"]
    narinfos = {info.read_text().split("\n", 1)[0].removeprefix("StorePath: "): info.read_text()
                for info in cache.glob("*.narinfo")}
    assert len(narinfos) == pushed["paths"]
    assert all("Sig: nixbuild-test-1:" in text for text in narinfos.values())
    # Layers, the image and every fixed-output input: .debs, wheels, the busybox seed.
    assert quickstart["built"]["store_path"] in narinfos
    assert any(path.endswith(".deb") for path in narinfos)
    assert any(path.endswith(".whl") for path in narinfos)
    assert any(path.endswith("-busybox") for path in narinfos)

    # Machine B: an empty store, an empty nixbuild cache, the file:// cache.
    store_b, cache_b = tmp_path / "store-b", tmp_path / "nixbuild-cache-b"
    env_b = offline(cache_b, f"file://{cache}", public_key)
    start = time.monotonic()
    [built] = cli.json("build", app, "--store", store_b, env=env_b)
    print(f"build in an empty store from the file:// cache: {time.monotonic() - start:.1f}s")
    assert built["manifest_digest"] == digest
    assert (store_b / built["store_path"].lstrip("/")).is_dir()
    assert Path(built["layout"]).is_relative_to(app.parent / ".nixbuild")
    assert not (cache_b / "debs").exists()  # nothing was downloaded, not even the busybox .deb

    # Part 4: the digest recorded on machine A, checked on machine B.
    wrong = "sha256:" + "0" * 64
    cli("build", app, "--store", store_b, "--expect", digest, env=env_b)
    for command in ("build", "check"):
        proc = cli(command, app, "--store", store_b, "--expect", wrong, env=env_b, ok=False)
        assert proc.returncode == 7, proc.stderr
        assert digest in proc.stderr and wrong in proc.stderr and "Traceback" not in proc.stderr

    # The same cache over HTTP on 127.0.0.1, a third store and cache directory.
    with serve_folder(cache, "nix-cache-info") as url:
        store_c, cache_c = tmp_path / "store-c", tmp_path / "nixbuild-cache-c"
        start = time.monotonic()
        [built] = cli.json("build", app, "--store", store_c, env=offline(cache_c, url, public_key))
        print(f"build in an empty store from the HTTP cache: {time.monotonic() - start:.1f}s")
        assert built["manifest_digest"] == digest


def test_cache_push_refuses_bad_input_before_building(quickstart, cli, tmp_path):
    app = copy_quickstart(quickstart, tmp_path / "qs")
    for args in (["not-a-url"], [f"file://{tmp_path / 'c'}", "--sign-key", tmp_path / "missing-key"]):
        proc = cli("cache", "push", app, *args, ok=False)
        assert proc.returncode == 2, proc.stderr
        assert "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "c").exists() and not (app.parent / ".nixbuild").exists()
