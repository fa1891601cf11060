"""Images uploaded by the newsroom: checked, stripped of metadata, stored by content hash.

Every upload is decoded by Pillow (a file that is not really a JPEG, PNG, WebP or GIF is
refused), turned upright by its EXIF orientation, and written again from its pixels, so
nothing of the original's metadata (GPS position, camera serial, comments) survives. A
web-sized variant is made for wide images. Names are the hash of the stored bytes, so a
file never changes once written and may be cached forever.
"""

import hashlib
import os
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
ANIMATION_INFO = {"duration", "loop", "transparency", "background"}


class NotAnImage(ValueError):
    """Not an image of an accepted kind, or not decodable."""


class ImageTooLarge(ValueError):
    """More pixels than allowed: likely a decompression bomb."""


@dataclass(frozen=True)
class StoredImage:
    name: str  # the web-sized file's name under MEDIA_DIR
    width: int
    height: int
    original: str  # the full-size file's name


def _open(data: bytes, max_pixels: int) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            raise ImageTooLarge(str(error)) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise NotAnImage("not a JPEG, PNG, WebP or GIF image") from None
        if image.format not in FORMATS:
            raise NotAnImage(f"{image.format} images are not accepted")
        if image.width * image.height > max_pixels:
            raise ImageTooLarge(f"{image.width}×{image.height} is over {max_pixels:,} pixels")
        try:
            image.load()
        except (OSError, SyntaxError, ValueError):
            raise NotAnImage("the image data is damaged or incomplete") from None
    return image


def _encode(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    out = BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True, **options)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=85, **options)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True, **options)
    else:
        image.save(out, "GIF", optimize=True)
    return out.getvalue()


def _write(directory: Path, name: str, data: bytes) -> None:
    path = directory / name
    if path.exists():  # the same bytes, by their name
        return
    partial = directory / f".{name}.{os.getpid()}.partial"
    partial.write_bytes(data)
    os.replace(partial, path)


def store_image(data: bytes, directory: Path, max_pixels: int, web_width: int) -> StoredImage:
    """Check, clean and store an upload; blocking (run it in a thread)."""
    source = _open(data, max_pixels)
    fmt = source.format or ""
    ext = FORMATS[fmt]
    icc = source.info.get("icc_profile")
    directory.mkdir(parents=True, exist_ok=True)
    animated = getattr(source, "is_animated", False)
    if animated:
        # Frames and their timing are kept; comments and EXIF are not.
        source.info = {k: v for k, v in source.info.items() if k in ANIMATION_INFO}
        out = BytesIO()
        source.save(out, fmt, save_all=True, optimize=fmt == "GIF")
        original = out.getvalue()
        upright = source
    else:
        upright = ImageOps.exif_transpose(source)  # a copy of its own
        upright.info = {}  # Pillow would write EXIF, comments, XMP... back from here
        original = _encode(upright, fmt, icc)
    digest = hashlib.sha256(original).hexdigest()[:32]
    original_name = f"{digest}.{ext}"
    _write(directory, original_name, original)
    if animated or upright.width <= web_width:
        return StoredImage(original_name, upright.width, upright.height, original_name)
    height = round(upright.height * web_width / upright.width)
    web = upright.resize((web_width, height), Image.Resampling.LANCZOS)
    web_name = f"{digest}-{web_width}.{ext}"
    _write(directory, web_name, _encode(web, fmt, icc))
    return StoredImage(web_name, web_width, height, original_name)
