"""One image reader for every user image: the demo's uploads, batch prediction's files, the served model.

Training images are square cutouts centred on the galaxy, resized once with `resize_batch`; any other image
gets the same treatment after it is turned into 8-bit RGB and centre-cropped to a square, so the model sees
what it was trained on. (The training cache of an image folder decodes with its own settings, see
astro.data.folder, so that its cached pixels and keys stay what they were.)
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from astro.checkpoint.card import Preprocessing
from astro.data.transforms import resize_batch
from astro.errors import ImageError

# What PIL raises for a file it cannot decode: not an image, truncated, broken header, decompression bomb.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
ImageInput = Image.Image | str | Path | bytes

MIN_SIDE = 16  # below this there is no galaxy left to see
MAX_SIDE = 8192  # larger uploads are refused before decoding (an 8192^2 RGB image is 200 MB in memory)
WORK_SIDE = 1024  # short sides above twice this are box-reduced by an integer factor before any heavy work
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # PIL opens some 16-bit files as 32-bit "I"


def load_image(source: ImageInput) -> Image.Image:
    """Open and check an upload; return 8-bit RGB whose short side is below 2 * WORK_SIDE."""
    image = source if isinstance(source, Image.Image) else _open(source)
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"the image is {width}x{height} pixels: too small, at least {MIN_SIDE}x{MIN_SIDE} is needed"
        )
    if max(width, height) > MAX_SIDE:
        raise ImageError(
            f"the image is {width}x{height} pixels: too large, the limit is {MAX_SIDE} pixels per side "
            "(crop it around the galaxy or downscale it first)"
        )
    image.draft(None, (WORK_SIDE, WORK_SIDE))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale, nearly free
    try:
        ImageOps.exif_transpose(image, in_place=True)  # phone photos: upright as the browser shows them
        image.load()
        return _shrink(_to_rgb(image))
    except (OSError, SyntaxError) as exc:
        raise ImageError(f"the image data is damaged or truncated ({exc})") from None


def _open(source: str | Path | bytes) -> Image.Image:
    """Image.open with file problems as ImageError; our size limits stand in for PIL's bomb warning."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    except FileNotFoundError:
        raise ImageError(f"{source}: file not found") from None
    except UnidentifiedImageError:
        raise ImageError("the file is not an image (upload a PNG, JPEG, WebP, TIFF, GIF or BMP)") from None
    except Image.DecompressionBombError:
        raise ImageError(f"the image is too large (the limit is {MAX_SIDE} pixels per side)") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB: transparency over a black sky, 16-bit scaled from its full range."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.float32)
        return Image.fromarray(np.clip(values / 257.0, 0, 255).round().astype(np.uint8)).convert("RGB")
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32))
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.round().astype(np.uint8)).convert("RGB")
    if "A" in mode or "a" in mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        sky = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(sky, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError:
        raise ImageError(f"images in colour mode {mode} are not supported; save it as RGB") from None


def _shrink(image: Image.Image) -> Image.Image:
    """Box-reduce by an integer factor (cheap, anti-aliased) so huge uploads cost little downstream."""
    factor = min(image.size) // WORK_SIDE
    return image.reduce(factor) if factor >= 2 else image


def square_box(size: tuple[int, int], field: float = 1.0) -> tuple[int, int, int, int]:
    """The centred square (left, top, right, bottom): training cutouts are square, centred on the galaxy.
    `field` < 1 keeps that fraction of its side, for cutouts framed wider than the training ones."""
    width, height = size
    side = max(1, round(min(width, height) * field))
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def model_input(image: ImageInput, preprocessing: Preprocessing, field: float = 1.0) -> torch.Tensor:
    """Any image -> uint8 (1,3,S,S) as the model was trained: 8-bit RGB, centre square, resized once.
    The demo, batch prediction and the served model all call this."""
    rgb = load_image(image)
    pixels = np.array(rgb.crop(square_box(rgb.size, field)))  # writable: torch.from_numpy needs it
    return resize_batch(torch.from_numpy(pixels).unsqueeze(0), preprocessing.image_size, preprocessing.resize)
