"""Sizes as people read them."""


def human_size(size: float) -> str:
    """``1536`` -> ``1.5 KiB`` (B, KiB, MiB, GiB)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return str(size)


def image_line(name: str, digest: str, size: int, layers: int) -> str:
    """The line a build prints first for each image (the CLI's, and the one-file edit's)."""
    return f"{name}: {digest}  {human_size(size)}  {layers} layers"
