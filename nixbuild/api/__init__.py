"""The Image API: Modal-compatible image definitions as pydantic step models."""

from nixbuild.api.build_function import LocalFunctionError
from nixbuild.api.gpu import GpuSpec, parse_gpu
from nixbuild.api.ignore import AUTO_DOCKERIGNORE, NON_PYTHON_FILES, FilePatternMatcher
from nixbuild.api.image import Image
from nixbuild.api.origin import Origin
from nixbuild.api.python_version import local_python_version, python_series
from nixbuild.api.secret import DictSecret, DotenvSecret, NamedSecret, Secret, SecretRef
from nixbuild.api.steps import BASE_KINDS, Step, describe_step
from nixbuild.api.volume import CloudBucketMount, NetworkFileSystem, Volume

__all__ = [
    "AUTO_DOCKERIGNORE",
    "BASE_KINDS",
    "NON_PYTHON_FILES",
    "CloudBucketMount",
    "DictSecret",
    "DotenvSecret",
    "FilePatternMatcher",
    "GpuSpec",
    "Image",
    "LocalFunctionError",
    "NamedSecret",
    "NetworkFileSystem",
    "Origin",
    "Secret",
    "SecretRef",
    "Step",
    "Volume",
    "describe_step",
    "local_python_version",
    "parse_gpu",
    "python_series",
]
