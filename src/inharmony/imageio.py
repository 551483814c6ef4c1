"""Reading images and masks robustly: any mode, EXIF orientation, a pixel limit, errors naming the file."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 100_000_000  # refuse images above this many pixels (decompression bombs)


class ImageReadError(ValueError):
    """An image that cannot be used; the message names the file and what was expected."""


def _open(source: str | Path | bytes, max_pixels: int) -> Image.Image:
    img = _open_lazy(source, max_pixels)
    _load(img, source)
    return img


def _load(img: Image.Image, source) -> None:
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        img.seek(0)  # first frame of animations
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{name}: not a readable image ({exc})") from exc


def _open_lazy(source: str | Path | bytes, max_pixels: int) -> Image.Image:
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise ImageReadError(f"{name}: file not found")
        if path.stat().st_size == 0:
            raise ImageReadError(f"{name}: empty file (0 bytes), expected an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own max_pixels governs
            img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            if img.width * img.height > max_pixels:
                raise ImageReadError(
                    f"{name}: {img.width}×{img.height} = {img.width * img.height} pixels exceeds the limit of "
                    f"{max_pixels} (raise it with max_pixels / --max-pixels)"
                )
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:  # PIL's own hard guard (2 × its MAX_IMAGE_PIXELS) comes first
        raise ImageReadError(
            f"{name}: refused as a decompression bomb, the pixel count exceeds the limit ({exc})"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{name}: not a readable image ({exc})") from exc
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode (L, P, RGBA, CMYK, I;16, F, …) to 8-bit RGB."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def read_image(source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image as upright 8-bit RGB (EXIF orientation applied, first frame, alpha over white)."""
    return read_image_reduced(source, None, max_pixels)[0]


def read_image_reduced(
    source: str | Path | bytes, min_side: int | None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[Image.Image, tuple[int, int]]:
    """Like :func:`read_image`, but JPEGs may be decoded at a reduced scale (DCT scaling) as long as both
    sides stay ≥ ``min_side``. Returns the upright RGB image and the full upright size ``(H, W)``."""
    img = _open_lazy(source, max_pixels)
    width, height = img.size
    if min_side and img.format == "JPEG" and min(width, height) > 2 * min_side:
        scale = min(width, height) / min_side
        img.draft("RGB", (int(width / scale) + 1, int(height / scale) + 1))
    _load(img, source)
    try:
        orientation = img.getexif().get(0x0112, 1)
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the image
        orientation = 1
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return to_rgb(img), (height, width)


def read_mask(source: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a mask as an H×W float32 array in [0, 1] (first channel of a colour mask, /255)."""
    img = _open(source, max_pixels)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        return (arr / (65535.0 if arr.max() > 255 else 255.0)).astype(np.float32)
    if img.mode not in ("L", "1"):
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if img.mode == "1" or arr.max() == 1.0:  # masks stored as {0, 1} rather than {0, 255}
        return arr
    return arr / 255.0


def read_square(source: str | Path, size: int, mask: bool = False) -> np.ndarray:
    """An image resized to ``size``×``size`` as H×W×3 uint8 (bilinear), or with ``mask`` a mask as H×W bool
    (nearest, above one half): the fixed-size view in which the analysis scripts compare twins under a mask."""
    if mask:
        levels = Image.fromarray(np.rint(read_mask(source) * 255.0).astype(np.uint8))
        return np.asarray(levels.resize((size, size), Image.NEAREST)) > 127
    return np.asarray(read_image(source).resize((size, size), Image.BILINEAR))
