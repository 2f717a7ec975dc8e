"""Which manylinux platform uv resolves an image for, and that wheels are still chosen by the
image's real glibc (issue 16: trixie's glibc 2.41 is newer than any tag the pinned uv knows)."""

from __future__ import annotations

import subprocess

import pytest

from nixbuild.errors import ResolveError
from nixbuild.lock import StepLock
from nixbuild.python.resolve import GLIBC, resolve, resolver_platform, uv_bin, uv_manylinux_tags, wheel_rank

KNOWN = {(2, 17): "x86_64-manylinux_2_17", (2, 28): "x86_64-manylinux_2_28", (2, 40): "x86_64-manylinux_2_40"}


@pytest.mark.parametrize(("glibc", "tag"), [
    ((2, 41), "x86_64-manylinux_2_40"),  # newer than uv knows: its newest, which 2.41 runs
    ((3, 0), "x86_64-manylinux_2_40"),
    ((2, 40), "x86_64-manylinux_2_40"),  # exactly known
    ((2, 36), "x86_64-manylinux_2_28"),  # between known tags: the older one, never a newer
    ((2, 17), "x86_64-manylinux_2_17"),
])
def test_the_newest_known_tag_not_newer_than_the_glibc(glibc, tag):
    assert resolver_platform(glibc, KNOWN) == tag


def test_a_glibc_older_than_every_known_tag_is_a_clear_error():
    with pytest.raises(ResolveError, match=r"no manylinux platform for glibc 2\.12 \(its oldest: x86_64-manylinux_2_17\)"):
        resolver_platform((2, 12), KNOWN)


def _uv_accepts(platform: str) -> bool:
    """uv's own verdict: an unknown --python-platform fails argument parsing ("invalid value");
    a known one gets as far as the missing requirements file."""
    proc = subprocess.run([uv_bin(), "pip", "compile", "/nonexistent/requirements.in", "--offline",
                           "--python-platform", platform], capture_output=True, text=True)
    assert proc.returncode != 0
    return "invalid value" not in proc.stderr


@pytest.mark.parametrize("distribution", sorted(GLIBC))
def test_the_tag_read_from_uv_is_the_newest_uv_accepts(distribution):
    glibc = GLIBC[distribution]
    accepted = [minor for minor in range(17, glibc[1] + 1) if _uv_accepts(f"x86_64-manylinux_2_{minor}")]
    assert accepted, "uv accepts no manylinux_2_x tag at all"
    assert resolver_platform(glibc, uv_manylinux_tags()) == f"x86_64-manylinux_2_{max(accepted)}"


def test_uv_tags_include_the_legacy_and_pep600_spellings_once():
    tags = uv_manylinux_tags()
    assert tags[(2, 17)] == "x86_64-manylinux_2_17"
    assert all(tag.startswith("x86_64-manylinux") for tag in tags.values())
    assert all(_uv_accepts(tag) for tag in tags.values())


def test_wheels_are_chosen_by_the_real_glibc_not_the_resolver_tag():
    newer = "pkg-1.0-cp313-cp313-manylinux_2_41_x86_64.whl"
    assert wheel_rank(newer, "3.13", GLIBC["trixie"]) == 3  # 2.41 runs a 2_41 wheel, though uv knows only 2_40
    assert wheel_rank(newer, "3.11", GLIBC["bookworm"]) is None
    assert wheel_rank("pkg-1.0-cp313-cp313-manylinux_2_42_x86_64.whl", "3.13", GLIBC["trixie"]) is None
    assert wheel_rank("pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.13",
                      GLIBC["trixie"]) == 3


def test_resolving_for_trixie_uses_and_reports_the_fallback_tag():
    # Real uv, real PyPI: before issue 16 this failed with "invalid value 'x86_64-manylinux_2_41'".
    resolved = resolve(["markupsafe==3.0.2"], python="3.13", glibc=GLIBC["trixie"], constraints=[])
    assert resolved.platform == resolver_platform(GLIBC["trixie"], uv_manylinux_tags())
    (wheel,) = resolved.wheels
    assert wheel.filename == "MarkupSafe-3.0.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def test_a_step_locked_before_the_platform_was_recorded_still_reads():
    old = {"index": 2, "kind": "pip_install", "fingerprint": "f" * 64, "packages": [], "wheels": [], "sdists": []}
    assert StepLock.model_validate(old).python_platform is None
    new = StepLock.model_validate({**old, "python_platform": "x86_64-manylinux_2_40"})
    assert new.python_platform == "x86_64-manylinux_2_40"
