"""Wrappers over the programs and downloads nixbuild drives: the Nix commands with the
options every call needs (``nixcmd``) and verified, atomic downloads (``download``).
"""
