"""Volumes attached to a build step (``run_commands``, ``run_function``).

Like Secrets, these are references: the model holds the name, the build side decides what a
named volume is locally. Path rules and messages are Modal's (``validate_mount_points``).
"""

from __future__ import annotations

import posixpath
from pathlib import PurePath
from typing import Annotated, Any, Literal

from pydantic import Field

from nixbuild.api.model import FrozenModel
from nixbuild.api.secret import Secret, SecretRef
from nixbuild.errors import InvalidError


class Volume(FrozenModel):
    """``modal.Volume.from_name(name)``."""

    kind: Literal["volume"] = "volume"
    name: str

    @staticmethod
    def from_name(
        name: str,
        *,
        environment_name: str | None = None,
        create_if_missing: bool = False,
        version: int | None = None,
        client: Any = None,
    ) -> Volume:
        return Volume(name=name)

    def __repr__(self) -> str:
        return f"Volume.from_name({self.name!r})"


class CloudBucketMount(FrozenModel):
    """``modal.CloudBucketMount``: a bucket mounted during the step (run_function only)."""

    kind: Literal["cloud_bucket"] = "cloud_bucket"
    bucket_name: str
    bucket_endpoint_url: str | None = None
    key_prefix: str | None = None
    secret: SecretRef | None = None
    oidc_auth_role_arn: str | None = None
    read_only: bool = False
    requester_pays: bool = False

    def __init__(self, bucket_name: str, **data: Any):
        secret = data.get("secret")
        if secret is not None and not isinstance(secret, Secret):
            raise InvalidError("CloudBucketMount secret must be a modal.Secret")
        super().__init__(**{"bucket_name": bucket_name, **data})


class NetworkFileSystem(FrozenModel):
    """``modal.NetworkFileSystem.from_name(name)`` (deprecated in Modal, still accepted)."""

    kind: Literal["network_file_system"] = "network_file_system"
    name: str

    @staticmethod
    def from_name(
        name: str,
        *,
        environment_name: str | None = None,
        create_if_missing: bool = False,
        client: Any = None,
    ) -> NetworkFileSystem:
        return NetworkFileSystem(name=name)

    def __repr__(self) -> str:
        return f"NetworkFileSystem.from_name({self.name!r})"


VolumeRef = Annotated[Volume | CloudBucketMount, Field(discriminator="kind")]


def validate_volumes(volumes: Any, *, only_modal_volumes: str | None = None) -> dict[str, Any]:
    """``volumes=`` of a build step or function: ``{absolute path: Volume | CloudBucketMount}``.

    With ``only_modal_volumes`` (the caller's name), CloudBucketMounts are rejected, as
    ``Image.run_commands`` does.
    """
    if volumes is None:
        return {}
    validated = _validate_mount_points("Volume", volumes)
    paths_by_volume: dict[int, list[str]] = {}
    for path, volume in validated.items():
        if not isinstance(volume, (Volume, CloudBucketMount)):
            raise InvalidError(f"Object of type {type(volume)} mounted at '{path}' is not usable as a volume.")
        if isinstance(volume, Volume):
            # Modal compares Volume objects, not names: two from_name() handles are two volumes.
            paths_by_volume.setdefault(id(volume), []).append(path)
    for paths in paths_by_volume.values():
        if len(paths) > 1:
            raise InvalidError(
                "The same Volume cannot be mounted in multiple locations for the same function: " + ", ".join(paths)
            )
    if only_modal_volumes and not all(isinstance(v, Volume) for v in validated.values()):
        raise InvalidError(f"{only_modal_volumes} only supports volumes that are modal.Volume")
    return validated


def validate_network_file_systems(network_file_systems: Any) -> dict[str, NetworkFileSystem]:
    validated = _validate_mount_points("NetworkFileSystem", network_file_systems or {})
    for path, nfs in validated.items():
        if not isinstance(nfs, NetworkFileSystem):
            raise InvalidError(
                f"Object of type {type(nfs)} mounted at '{path}' is not useable as a network file system."
            )
    return validated


def _validate_mount_points(display_name: str, mounts: Any) -> dict[str, Any]:
    if not isinstance(mounts, dict):
        raise InvalidError(
            f"`volume_likes` should be a dict[str | PurePosixPath, {display_name}], got {type(mounts)} instead"
        )
    validated: dict[str, Any] = {}
    for raw_path, mount in mounts.items():
        path = PurePath(raw_path).as_posix()
        absolute = posixpath.abspath(path)
        if path != absolute:
            raise InvalidError(f"{display_name} {path} must be a canonical, absolute path.")
        if absolute == "/":
            raise InvalidError(f"{display_name} {path} cannot be mounted into root directory.")
        if absolute in ("/root", "/tmp"):
            raise InvalidError(f"{display_name} {path} cannot be mounted at '{absolute}'.")
        validated[path] = mount
    return validated
