"""Small file helpers: atomic writes so that nothing already written is ever left half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    # read once at import: os.umask can only be read by setting it, which would race with writer threads
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one rename.

    The result gets the permissions an ordinary ``open(path, "w")`` would give (mkstemp's are 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_image(path: str | Path, array, quality: int = 95) -> None:
    """Write an H×W(×3) uint8 array atomically: PNG for ``.png`` paths, JPEG (``quality``) otherwise."""
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
        Image.fromarray(array).save(tmp, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
