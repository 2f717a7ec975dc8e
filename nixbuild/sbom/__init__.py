"""SBOMs and provenance from the lock: every pinned input of an image as a component.

:mod:`.components` reads the lock into one model of components (Debian packages, wheels and
sdists, local trees, pinned network outputs, registry bases); :mod:`.spdx` and
:mod:`.cyclonedx` render it with the formats' own libraries and validate what they write;
:mod:`.provenance` writes the in-toto/SLSA statement; :mod:`.write` puts the three files
beside the image.
"""
