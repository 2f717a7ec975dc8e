"""The Debian side of nixbuild: mirrors, verified package indexes, and apt's resolution.

- :mod:`.sources`: which mirrors (environment, then the host's apt sources).
- :mod:`.index`: a distribution's suites, verified (InRelease + gpgv) and cached.
- :mod:`.resolver`: the packages ``apt-get install`` would add, computed the way apt does.

Typical use (a debian_slim base, then an apt_install step on top of it)::

    index = load_index("bookworm", mirrors=configured_mirrors(), cache_dir=default_cache_dir())
    base = resolve(index, minbase(index), recommends=False)
    added = resolve(index, ["curl", "git"], installed=base)
    # lock: index.snapshots + each Package's archive, filename, size, sha256;
    # later, offline: load_snapshot(snapshots, mirrors=..., cache_dir=...)
"""

from .cache import default_cache_dir
from .index import (
    DISTRIBUTIONS,
    PackageIndex,
    Provider,
    Suite,
    SuiteSnapshot,
    load_index,
    load_snapshot,
)
from .package import Package
from .relations import Relation
from .resolver import minbase, resolve
from .sources import Mirrors, configured_mirrors
from .version import compare_versions, satisfies

__all__ = [
    "DISTRIBUTIONS",
    "Mirrors",
    "Package",
    "PackageIndex",
    "Provider",
    "Relation",
    "Suite",
    "SuiteSnapshot",
    "compare_versions",
    "configured_mirrors",
    "default_cache_dir",
    "load_index",
    "load_snapshot",
    "minbase",
    "resolve",
    "satisfies",
]
