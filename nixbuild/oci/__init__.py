"""Images on disk, after Nix built them: reading an OCI layout (``layout``), explaining the
difference between two builds (``diff``), running a command in an image (``runner``), an
image's root filesystem on disk, shared with the sandbox builders (``rootfs``: stdlib only) and
copying it to a registry (``skopeo``). Build, check, run and push stages of the data flow.
"""
