"""What nixbuild keeps in the Nix store and its cache: its own GC roots, and reclaiming them."""
