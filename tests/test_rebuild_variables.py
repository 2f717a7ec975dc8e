"""MODAL_FORCE_BUILD / MODAL_IGNORE_CACHE and their NIXBUILD_ aliases: strict booleans."""

from __future__ import annotations

import pytest

from nixbuild import rebuild
from nixbuild.errors import InvalidError


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "Yes", " yes "])
def test_true_values(value):
    assert rebuild.from_env({"MODAL_FORCE_BUILD": value}) == rebuild.Rebuild(force_build=True)
    assert rebuild.from_env({"MODAL_IGNORE_CACHE": value}) == rebuild.Rebuild(ignore_cache=True)


@pytest.mark.parametrize("value", ["0", "false", "No", ""])
def test_false_values(value):
    assert rebuild.from_env({"MODAL_FORCE_BUILD": value, "NIXBUILD_IGNORE_CACHE": value}) == rebuild.Rebuild()


def test_aliases_and_unset():
    assert rebuild.from_env({}) == rebuild.Rebuild()
    assert rebuild.from_env({"NIXBUILD_FORCE_BUILD": "1"}).force_build
    assert rebuild.from_env({"NIXBUILD_IGNORE_CACHE": "true"}).ignore_cache
    # Either name turns it on.
    assert rebuild.from_env({"MODAL_FORCE_BUILD": "0", "NIXBUILD_FORCE_BUILD": "1"}).force_build


@pytest.mark.parametrize("name", ["MODAL_FORCE_BUILD", "MODAL_IGNORE_CACHE", "NIXBUILD_FORCE_BUILD",
                                  "NIXBUILD_IGNORE_CACHE"])
@pytest.mark.parametrize("value", ["ture", "2", "on", "y"])
def test_other_values_are_an_error_naming_the_variable(name, value):
    # A bad alias is reported even when the other name is set correctly.
    other = {"MODAL_FORCE_BUILD": "NIXBUILD_FORCE_BUILD", "NIXBUILD_FORCE_BUILD": "MODAL_FORCE_BUILD",
             "MODAL_IGNORE_CACHE": "NIXBUILD_IGNORE_CACHE", "NIXBUILD_IGNORE_CACHE": "MODAL_IGNORE_CACHE"}[name]
    with pytest.raises(InvalidError) as info:
        rebuild.from_env({name: value, other: "1"})
    assert name in str(info.value) and repr(value) in str(info.value)
    assert info.value.exit_code == 2
