"""Tests of nixbuild.oci.layout, nixbuild.oci.diff and the tests/ocischema.py helper.

A package so that pytest puts tests/ (not tests/oci/) on sys.path, which makes the shared
``ocischema`` helper importable here.
"""
