"""What nixbuild keeps in Nix stores: its own GC roots and ``gc`` (``roots``, ``gc``), binary
caches (``cache``), second chroot stores (``chroot``), and pinned .debs the mirror no longer
serves, added by hash (``pinned_debs``); whether paths are valid (``validity``)."""
