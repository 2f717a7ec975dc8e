"""Registry bases: ``from_registry``, ``from_aws_ecr`` and ``from_gcp_artifact_registry``.

- :mod:`reference`: a Docker image reference, taken apart as Docker does, and which
  registries are spoken to over plain HTTP.
- :mod:`credentials`: the step's registry secret as skopeo's credentials (never stored).
- :mod:`pin`: lock time: the tag resolved to a manifest digest (linux/amd64 out of an index),
  the manifest, config and layer digests pinned, the blobs pulled into nixbuild's cache, the
  inherited config and the facts later steps need (glibc, Python, dpkg) recorded.
- :mod:`facts`: what a base's layers hold, read from the layer tars.
- :mod:`installed`: what an apt step on a base resolves against (its release, its dpkg status).
- :mod:`ubuntu`: an Ubuntu base's own apt sources and keyring, its suites from the configured
  Ubuntu mirror.
- :mod:`blobs`: build time: every pinned blob in the Nix store, under the name the Nix library
  gives it, from the store, nixbuild's cache, or the registry (by digest), in that order.
"""
