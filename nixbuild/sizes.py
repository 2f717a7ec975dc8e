"""Sizes as people read them."""


def human_size(size: float) -> str:
    """``1536`` -> ``1.5 KiB`` (B, KiB, MiB, GiB)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return str(size)
