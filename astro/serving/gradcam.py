"""Grad-CAM (Selvaraju et al. 2017): which regions of the image raised a class's score.

The last convolutional stage keeps the most class-specific spatial information; its activations,
weighted by the spatially averaged gradient of the class logit, give a coarse map of the evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from PIL import Image
from torch import nn

from astro.data.images import ImageInput, load_image, square_box

if TYPE_CHECKING:
    from astro.serving.classifier import Classifier

HEAT_ALPHA = 0.5  # share of the heat map in the blend over the galaxy
OUTSIDE_DIM = 0.35  # brightness kept outside the centre square the model did not see


def cam_layer(model: nn.Module) -> nn.Module | None:
    """The module whose output is the last conv stage: a ResNet's layer4, else the last ReLU in `features`."""
    layer4 = getattr(model, "layer4", None)
    if isinstance(layer4, nn.Module):
        return layer4
    features = getattr(model, "features", None)
    if isinstance(features, nn.Module):
        relus = [m for m in features.modules() if isinstance(m, nn.ReLU)]
        return relus[-1] if relus else None
    return None


def grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, class_index: int) -> np.ndarray:
    """(h, w) map in [0, 1] at the layer's resolution for one normalised image x of shape (1,3,S,S).

    A forward hook keeps the activations; torch.autograd.grad takes the logit's gradient with respect to
    them directly, so no parameter .grad is written and an in-place ReLU is no obstacle.
    """
    kept: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _module, _inputs, output: kept.append(output))
    try:
        with torch.enable_grad():
            logits = model(x)
            (gradient,) = torch.autograd.grad(logits[0, class_index], kept[0])
    finally:
        handle.remove()
    activations = kept[0].detach()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations).sum(dim=1))[0]
    peak = cam.max()
    return (cam / peak if peak > 0 else cam).cpu().numpy()


def overlay(image: Image.Image, cam: np.ndarray, box: tuple[int, int, int, int]) -> Image.Image:
    """Blend the map, upsampled to the box the model saw, over an RGB image; dim everything outside it."""
    left, top, right, bottom = box
    heat = Image.fromarray(cam.astype(np.float32)).resize((right - left, bottom - top), Image.BILINEAR)
    colours = colormaps["inferno"](np.clip(np.asarray(heat), 0.0, 1.0))[..., :3] * 255.0
    pixels = np.asarray(image, dtype=np.float32) * OUTSIDE_DIM
    inside = np.asarray(image.crop(box), dtype=np.float32)
    pixels[top:bottom, left:right] = (1 - HEAT_ALPHA) * inside + HEAT_ALPHA * colours
    return Image.fromarray(pixels.round().astype(np.uint8))


def explain(classifier: Classifier, image: ImageInput, class_name: str) -> Image.Image | None:
    """Grad-CAM for one class drawn over the (downscaled) image; None if the model has no conv stage.
    A function, not a Classifier method, so that serving a model never imports matplotlib's colormaps."""
    layer = cam_layer(classifier.model)
    if layer is None:
        return None
    rgb = load_image(image)
    x = classifier.normalize(classifier.preprocess(rgb).to(classifier.device))
    cam = grad_cam(classifier.model, layer, x, classifier.class_names.index(class_name))
    return overlay(rgb, cam, square_box(rgb.size))
