"""What a conda step asks for: Modal's micromamba commands as specs and channels, spec files
(environment.yml and plain lists) read as micromamba reads them."""

from __future__ import annotations

import pytest

from nixbuild.api.image import Image
from nixbuild.conda.steps import request_of
from nixbuild.errors import InvalidError


def test_the_base_asks_for_python_and_pip_from_conda_forge(tmp_path):
    request = request_of(Image.micromamba("3.11").steps[0], tmp_path)
    assert (request.specs, request.channels) == (("python=3.11", "pip"), ("conda-forge",))


def test_an_environment_file_adds_its_specs_and_channels_after_the_steps(tmp_path):
    (tmp_path / "env.yml").write_text("name: x\nchannels: [extra, test-channel]\n"
                                      "dependencies:\n  - mylib>=2\n  - mydep\n")
    step = Image.micromamba("3.11").micromamba_install("mypkg", spec_file="env.yml",
                                                       channels=["test-channel"]).steps[-1]
    request = request_of(step, tmp_path)
    assert request.specs == ("mypkg", "mylib>=2", "mydep")
    assert request.channels == ("test-channel", "extra")


def test_a_plain_spec_list_and_what_is_refused(tmp_path):
    (tmp_path / "specs.txt").write_text("# comment\nmylib >=2\n\nmydep  # inline\n")
    step = Image.micromamba("3.11").micromamba_install(spec_file="specs.txt").steps[-1]
    assert request_of(step, tmp_path).specs == ("mylib >=2", "mydep")
    (tmp_path / "explicit.txt").write_text("@EXPLICIT\nhttp://127.0.0.1:1/x.conda\n")
    with pytest.raises(InvalidError, match="@EXPLICIT"):
        request_of(Image.micromamba("3.11").micromamba_install(spec_file="explicit.txt").steps[-1], tmp_path)
    (tmp_path / "pip.yml").write_text("dependencies:\n  - pip:\n    - six\n")
    with pytest.raises(InvalidError, match="pip_install"):
        request_of(Image.micromamba("3.11").micromamba_install(spec_file="pip.yml").steps[-1], tmp_path)


def test_other_steps_ask_for_nothing(tmp_path):
    assert request_of(Image.debian_slim("3.11").steps[0], tmp_path) is None


def test_a_spec_files_contents_are_part_of_the_steps_fingerprint(tmp_path):
    from nixbuild.locking import fingerprints

    image = Image.micromamba("3.11").micromamba_install(spec_file="specs.txt")
    (tmp_path / "specs.txt").write_text("mylib\n")
    before = fingerprints(image, tmp_path)
    (tmp_path / "specs.txt").write_text("mylib >=2\n")
    after = fingerprints(image, tmp_path)
    assert [i for i, _ in before] == [0, 1] and before[0] == after[0] and before[1] != after[1]


def test_what_a_conda_step_cannot_do_is_refused_by_name():
    from nixbuild.chain import require_supported

    with pytest.raises(InvalidError, match="not supported on a debian_slim base") as err:
        require_supported("img", Image.debian_slim("3.11").micromamba_install("mylib"))
    assert err.value.where == "image 'img', step 1 micromamba_install"
    with pytest.raises(InvalidError, match="secrets=/env="):
        require_supported("img", Image.micromamba("3.11").micromamba_install("mylib", env={"TOKEN": "x"}))
    require_supported("img", Image.micromamba("3.11").micromamba_install("mylib", gpu="A100", force_build=True))
