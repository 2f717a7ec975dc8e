"""Python packages of an image: the requirements a step names (``inputs``), pip options that
change a resolution (``pip_options``), resolution for the image's Python and glibc by a pinned
uv (``resolve``), sdists and their pinned build requirements (``sdist``), and the Debian
packages that a failed sdist build was missing (``sdist_hints``). Lock stage of the data flow.
"""
