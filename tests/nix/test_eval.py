"""Evaluate the Nix library (no builds) with nix-instantiate against a small spec fixture."""

import json
import subprocess
from pathlib import Path

NIX = Path(__file__).resolve().parents[2] / "nix"
SHA = "0" * 63 + "1"
NAR = "0" * 52


def spec(url_base="http://127.0.0.1:1/debian", layers=2):
    deb = lambda name: {"url": f"{url_base}/pool/{name}", "sha256": SHA, "name": name}  # noqa: E731
    return {
        "name": "t", "ref": "latest", "architecture": "amd64", "created": "1970-01-01T00:00:01Z", "epoch": 1,
        "bootstrap": {"busybox": {"name": "busybox", "narHash": NAR}, "debs": [deb("py_1_amd64.deb")]},
        "layers": [{"kind": "debs", "name": f"l{i}", "createdBy": f"step {i}", "base": i == 0,
                    "debs": [deb(f"p{i}_1~rc1_amd64.deb")]} for i in range(layers)],
        "config": {"Env": ["A=1"]},
    }


def evaluate(expr: str, spec_value: dict, tmp_path: Path):
    spec_file = tmp_path / f"spec-{abs(hash(json.dumps(spec_value)))}.json"
    spec_file.write_text(json.dumps(spec_value))
    full = f"let lib = import {NIX}/default.nix {{}}; spec = builtins.fromJSON (builtins.readFile {spec_file}); in {expr}"
    proc = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--expr", full],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_store_names_are_sanitised():
    out = subprocess.run(["nix-instantiate", "--eval", "--json", "--expr",
                          f'(import {NIX}/fetch.nix).storeName "libssl3_3.0.22-1~deb12u2:amd64"'],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == "libssl3_3.0.22-1_deb12u2_amd64"


def test_one_layer_derivation_per_spec_layer(tmp_path):
    names = evaluate("map (l: l.name) (lib.buildImage spec).layers", spec(layers=3), tmp_path)
    assert names == ["layer-0-l0", "layer-1-l1", "layer-2-l2"]


def test_fetches_are_fixed_output_with_the_locked_hash(tmp_path):
    attrs = evaluate('let d = (import ' + str(NIX) + '/fetch.nix).fetchFile (builtins.head (builtins.head spec.layers).debs);'
                     ' in { inherit (d) outputHash outputHashMode builder name; }', spec(), tmp_path)
    assert attrs == {"outputHash": SHA, "outputHashMode": "flat", "builder": "builtin:fetchurl",
                     "name": "p0_1_rc1_amd64.deb"}


def test_changing_the_mirror_changes_no_output_path(tmp_path):
    expr = "(lib.buildImage spec).outPath"
    a = evaluate(expr, spec("http://127.0.0.1:1/debian"), tmp_path)
    b = evaluate(expr, spec("http://127.0.0.1:2/elsewhere"), tmp_path)
    assert a == b and a.startswith("/nix/store/")


def test_a_changed_top_layer_leaves_lower_layers_alone(tmp_path):
    first = spec()
    second = spec()
    second["layers"][1]["debs"][0]["sha256"] = "0" * 63 + "2"
    lower = "map (l: l.outPath) (lib.buildImage spec).layers"
    a, b = evaluate(lower, first, tmp_path), evaluate(lower, second, tmp_path)
    assert a[0] == b[0] and a[1] != b[1]


def test_config_reaches_the_image_derivation(tmp_path):
    image_spec = evaluate("builtins.fromJSON (builtins.unsafeDiscardStringContext (lib.buildImage spec).imageSpec)",
                          spec(), tmp_path)
    assert image_spec["config"] == {"Env": ["A=1"]}
    assert image_spec["created"] == "1970-01-01T00:00:01Z"
    assert len(image_spec["layers"]) == 2


def _wheels_layer(**extra) -> dict:
    wheel = lambda name: {"url": f"http://127.0.0.1:1/{name}", "sha256": SHA, "name": name}  # noqa: E731
    return {"kind": "wheels", "name": "1-pip_install", "createdBy": "pip", "env": ["A=1"],
            "installer": wheel("installer-1.1.0-py3-none-any.whl"), "wheels": [wheel("six-1.17.0-py2.py3-none-any.whl")],
            "sdists": [{**wheel("docopt-0.6.2.tar.gz"), "project": "docopt", "version": "0.6.2",
                        "backend": "setuptools.build_meta:__legacy__", "build": [wheel("setuptools-80-py3-none-any.whl")]}],
            **extra}


def test_a_wheels_layer_hands_every_pinned_file_to_the_installer(tmp_path):
    value = spec(layers=1)
    value["layers"].append(_wheels_layer())
    # The step runs in the derivation of the layer's tree (run_tree.py); the layer is written
    # from it (tree_layer.py).
    layer_spec = evaluate("builtins.fromJSON (builtins.unsafeDiscardStringContext "
                          "(builtins.elemAt (lib.buildImage spec).layers 1).tree.layerSpec)", value, tmp_path)
    (command,) = layer_spec["commands"]
    assert command.startswith("python3 /nix/store/") and "-python_install.py '" in command
    plan = json.loads(command.split(" ", 2)[2].strip("'"))
    assert [w["name"] for w in plan["wheels"]] == ["six-1.17.0-py2.py3-none-any.whl"]
    (sdist,) = plan["sdists"]
    assert sdist["path"].endswith("-docopt-0.6.2.tar.gz") and sdist["backendPath"] == []
    assert [b["name"] for b in sdist["build"]] == ["setuptools-80-py3-none-any.whl"]
    assert layer_spec["storeMount"] is True and layer_spec["network"] is False


def test_a_git_checkout_is_the_directory_the_cli_seeds_under_its_nar_hash(tmp_path):
    value = spec(layers=1)
    checkout = {"name": "greet-0123456789ab", "narHash": NAR, "project": "greet", "version": "0.1.0",
                "backend": "setuptools.build_meta", "build": []}
    value["layers"].append(_wheels_layer(sdists=[checkout]))
    layer_spec = evaluate("builtins.fromJSON (builtins.unsafeDiscardStringContext "
                          "(builtins.elemAt (lib.buildImage spec).layers 1).tree.layerSpec)", value, tmp_path)
    (sdist,) = json.loads(layer_spec["commands"][0].split(" ", 2)[2].strip("'"))["sdists"]
    seeded = subprocess.run(["nix-store", "--print-fixed-path", "--recursive", "sha256", NAR, checkout["name"]],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert sdist["path"] == seeded and sdist["project"] == "greet"


def test_a_gpu_wheels_layer_requires_the_builder_features(tmp_path):
    value = spec(layers=1)
    value["layers"].append(_wheels_layer(systemFeatures=["cuda", "gpu-a100"]))
    # The packages are installed in the layer's tree; writing the layer from it needs no GPU.
    features = evaluate("let l = builtins.elemAt (lib.buildImage spec).layers 1; in "
                        "[ (l.tree.requiredSystemFeatures or null) (l.requiredSystemFeatures or null) ]",
                        value, tmp_path)
    assert features == [["cuda", "gpu-a100"], None]


def test_a_gpu_deb_layer_requires_the_builder_features(tmp_path):
    value = spec()
    value["layers"][1]["systemFeatures"] = ["cuda", "gpu-t4"]
    # The packages are unpacked and configured in the layer's tree: that is where the step runs;
    # writing the layer from the tree needs no GPU.
    features = evaluate("map (l: [ (l.tree.requiredSystemFeatures or null) (l.requiredSystemFeatures or null) ]) "
                        "(lib.buildImage spec).layers", value, tmp_path)
    assert features == [[None, None], [["cuda", "gpu-t4"], None]]


def test_a_copy_layer_builds_on_the_very_derivations_of_the_chain_it_copies_from(tmp_path):
    stage = spec(layers=2)
    image = spec(layers=1)
    image["layers"].append({"kind": "copy", "name": "1-copy_from", "createdBy": "COPY --from=build /out /out",
                            "stage": stage["layers"], "sources": ["/out"], "dest": "/out", "intoDir": False})
    lower = evaluate("(builtins.fromJSON (builtins.unsafeDiscardStringContext "
                     "(builtins.elemAt (lib.buildImage spec).layers 1).layerSpec)).lower", image, tmp_path)
    # A deb layer's tree, from which the layer is written, stands for it (no wait for its gzip).
    own = evaluate("map (d: (d.tree or d).outPath) (lib.buildImage spec).layers", stage, tmp_path)
    assert lower == own and len(own) == 2 and all(path.endswith("-tree") for path in own)


def test_a_conda_layer_hands_each_fetched_package_and_the_zstd_debs_to_the_linker(tmp_path):
    value = spec(layers=1)
    package = {"url": "http://127.0.0.1:1/chan/linux-64/mylib-2.0-0.conda", "sha256": SHA,
               "name": "mylib-2.0-0.conda", "size": 5, "channel": "chan", "subdir": "linux-64", "requested": "mylib"}
    value["layers"].append({"kind": "conda", "name": "1-micromamba_install", "createdBy": "micromamba install mylib",
                            "prefix": "/opt/conda", "packages": [package], "systemFeatures": ["cuda"],
                            "tools": [{"url": "http://127.0.0.1:1/zstd.deb", "sha256": SHA, "name": "zstd.deb"}]})
    layer_spec = evaluate("builtins.fromJSON (builtins.unsafeDiscardStringContext "
                          "(builtins.elemAt (lib.buildImage spec).layers 1).layerSpec)", value, tmp_path)
    (linked,) = layer_spec["packages"]
    assert linked["path"].startswith("/nix/store/") and linked["path"].endswith("-mylib-2.0-0.conda")
    assert (linked["filename"], linked["requested"], layer_spec["pythonSeries"]) == ("mylib-2.0-0.conda", "mylib", None)
    assert layer_spec["tools"][0].endswith("-zstd.deb") and layer_spec["prefix"] == "/opt/conda"
    assert "url" not in linked  # the mirror is configuration: it does not reach the layer's derivation
    features = evaluate("(builtins.elemAt (lib.buildImage spec).layers 1).requiredSystemFeatures", value, tmp_path)
    assert features == ["cuda"]


def test_the_early_toolchain_build_is_the_derivation_an_image_takes(tmp_path):
    # nixbuild/build.py builds nix/toolchain.nix beside the rest of locking; the image's build
    # must then find that very derivation built. Oracle: the drvPath Nix gives each.
    value = spec()
    toolchain_spec = tmp_path / "toolchain.json"
    toolchain_spec.write_text(json.dumps({"bootstrap": value["bootstrap"]}))
    early = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--expr",
                            f"(import {NIX}/toolchain.nix {{ specFile = {toolchain_spec}; }}).drvPath"],
                           capture_output=True, text=True, check=True).stdout
    assert json.loads(early) == evaluate("(lib.buildImage spec).tools.drvPath", value, tmp_path)
    assert json.loads(early).endswith("-nixbuild-tools.drv")
