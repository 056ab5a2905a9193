"""Classify one user image with a checkpoint: decode any upload, preprocess exactly as in training, predict.

Training images are square cutouts centred on the galaxy, resized once with `resize_batch` and normalised
with the training split's statistics; an upload gets the same treatment after it is turned into 8-bit RGB
and centre-cropped to a square, so the model sees what it was trained on.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import nn

from astro.calibration import posthoc
from astro.checkpointing import load_checkpoint, load_weights
from astro.data.transforms import Normalize, resize_batch
from astro.errors import ImageError
from astro.evaluation import dihedral_views
from astro.gradcam import cam_layer, grad_cam, overlay

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


def square_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The centred square (left, top, right, bottom): training cutouts are square, centred on the galaxy."""
    width, height = size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


class Classifier:
    """A checkpoint's model with its class names, resolution and normalisation, in eval mode.

    Serve one request at a time: Grad-CAM hooks into the shared model while it runs.
    """

    def __init__(
        self,
        model: nn.Module,
        class_names: list[str],
        image_size: int,
        normalization: dict[str, list[float]],
        resize: str = "bilinear",
        device: str | torch.device = "cpu",
        posthoc_steps: dict[str, Any] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.posthoc_steps = posthoc_steps or {}
        self.model = model.to(self.device).eval()
        self.class_names = list(class_names)
        self.image_size = image_size
        self.resize = resize
        self.normalize = Normalize(normalization["mean"], normalization["std"])
        self.cam_layer = cam_layer(model)

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], source: str | Path, device: str | torch.device = "cpu"
    ) -> Classifier:
        """Rebuild the model from the checkpoint's own resolved config and load its weights."""
        config = OmegaConf.create(payload["config"])
        model = instantiate(config.model, num_classes=len(payload["class_names"]))
        load_weights(model, payload, source)
        resize = OmegaConf.select(config, "data.resize", default="bilinear")
        steps = {key: payload[key] for key in ("temperature", "logit_adjustment") if payload.get(key)}
        return cls(
            model,
            payload["class_names"],
            payload["image_size"],
            payload["normalization"],
            resize=resize,
            device=device,
            posthoc_steps=steps,
        )

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> Classifier:
        return cls.from_payload(load_checkpoint(path), path, device)

    def preprocess(self, image: ImageInput) -> torch.Tensor:
        """Upload -> uint8 (1,3,S,S): RGB, centre square, resized with the training cache's method."""
        rgb = load_image(image)
        pixels = np.array(rgb.crop(square_box(rgb.size)))  # writable: torch.from_numpy needs it
        return resize_batch(torch.from_numpy(pixels).unsqueeze(0), self.image_size, self.resize)

    def predict(self, image: ImageInput, tta: bool = False) -> dict[str, float]:
        """Probability of every class; with tta, the softmax averaged over the 8 rotations/flips.

        Then the checkpoint's post-hoc steps, as in its test evaluation: logit adjustment and the
        temperature fitted on validation, so the confidences shown are the calibrated ones.
        """
        x = self.normalize(self.preprocess(image).to(self.device))
        views = torch.cat(dihedral_views(x)) if tta else x
        with torch.inference_mode():
            probs = torch.softmax(self.model(views), dim=1).mean(dim=0, keepdim=True)
        calibrated = posthoc(probs.cpu().double().numpy(), self.posthoc_steps)[0]
        return dict(zip(self.class_names, calibrated.tolist(), strict=True))

    def explain(self, image: ImageInput, class_name: str) -> Image.Image | None:
        """Grad-CAM for one class drawn over the (downscaled) upload; None if the model has no conv stage."""
        if self.cam_layer is None:
            return None
        rgb = load_image(image)
        x = self.normalize(self.preprocess(rgb).to(self.device))
        cam = grad_cam(self.model, self.cam_layer, x, self.class_names.index(class_name))
        return overlay(rgb, cam, square_box(rgb.size))
