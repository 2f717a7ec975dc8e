"""The cache of unpacked images (nixbuild.oci.runner.evict): bounded, and never removing
one that was just used (expected sets written by hand)."""

import os

from nixbuild.oci import runner


def test_beyond_the_newest_only_the_unused_go(tmp_path):
    now = 1_000_000.0
    made = []
    for i in range(runner.ROOTFS_KEPT + 4):
        entry = tmp_path / f"sha256-{i:02d}"
        (entry / "etc").mkdir(parents=True)
        (entry / "etc").chmod(0o555)  # read-only, as images have some folders
        # The first ROOTFS_KEPT + 2 were used in the last minutes, the last two an hour ago.
        age = i * 10 if i < runner.ROOTFS_KEPT + 2 else 3600 + i
        os.utime(entry, (now - age, now - age))
        made.append(entry)
    (tmp_path / ".unpack-x").mkdir()  # an unpack in progress is not an entry
    gone = runner.evict(tmp_path, keep=made[0], now=now)
    assert sorted(p.name for p in gone) == [made[-2].name, made[-1].name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".unpack-x", *(p.name for p in made[:-2])])
