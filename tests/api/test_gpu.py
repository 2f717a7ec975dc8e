"""gpu= parsing: no whitelist, split at the first colon, type upper-cased."""

import pytest

from nixbuild.api.gpu import GpuSpec, parse_gpu, parse_gpu_choices
from nixbuild.errors import InvalidError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("h100", GpuSpec(type="H100", count=1)),
        ("A100-80GB:4", GpuSpec(type="A100-80GB", count=4)),
        ("t4: 2", GpuSpec(type="T4", count=2)),  # int(" 2") is fine
        ("any", GpuSpec(type="ANY", count=1)),
        ("H100:0", GpuSpec(type="H100", count=0)),
        ("", GpuSpec(type="", count=1)),
        ("b200+", GpuSpec(type="B200+", count=1)),
    ],
)
def test_parse_gpu(value, expected):
    assert parse_gpu(value) == expected


def test_count_is_split_at_the_first_colon():
    with pytest.raises(InvalidError, match=r"^Invalid GPU count: 2:3\. Value must be an integer\.$"):
        parse_gpu("h100:2:3")


def test_negative_count_is_a_value_error():
    with pytest.raises(ValueError, match="out of range"):
        parse_gpu("h100:-1")


@pytest.mark.parametrize("value", [1, 1.5, True, {"type": "H100"}])
def test_non_strings_are_refused(value):
    with pytest.raises(InvalidError, match=r"Value must be a string or `None`$"):
        parse_gpu(value)


def test_choices_keep_order():
    assert parse_gpu_choices(["h100", "a100:2"]) == (GpuSpec(type="H100"), GpuSpec(type="A100", count=2))
    assert parse_gpu_choices("l4") == (GpuSpec(type="L4"),)
    assert parse_gpu_choices(None) == ()
    with pytest.raises(InvalidError, match="Invalid GPU config: None"):
        parse_gpu_choices(["h100", None])
