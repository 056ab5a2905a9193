"""Classify one user image with a checkpoint: preprocess exactly as in training, predict.

Decoding and preprocessing are astro.data.images (shared with batch prediction); Grad-CAM is
astro.serving.gradcam.explain, kept out of here so that the served model and training's final step,
which import this module, do not load the demo's saliency stack.
"""

from __future__ import annotations

from pathlib import Path

import torch

from astro.checkpoint.card import ModelCard
from astro.checkpoint.io import Checkpoint, load_checkpoint
from astro.data.images import ImageInput, model_input
from astro.data.transforms import Normalize, dihedral_views
from astro.evaluation.forward import view_averaged_logits
from astro.evaluation.posthoc import apply_posthoc


class Classifier:
    """A checkpoint's model with its card (class names, preprocessing, post-hoc steps), in eval mode.

    Serve one request at a time: Grad-CAM (astro.serving.gradcam.explain) hooks into the shared model.
    """

    def __init__(self, checkpoint: Checkpoint, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.card: ModelCard = checkpoint.card
        self.model = checkpoint.model().to(self.device)
        self.class_names = list(self.card.class_names)
        self.preprocessing = self.card.preprocessing
        self.normalize = Normalize(self.preprocessing.mean, self.preprocessing.std)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> Classifier:
        return cls(load_checkpoint(path), device)

    def preprocess(self, image: ImageInput) -> torch.Tensor:
        """Upload -> uint8 (1,3,S,S): RGB, centre square, resized with the training cache's method."""
        return model_input(image, self.preprocessing)

    def predict(self, image: ImageInput, tta: bool = False) -> dict[str, float]:
        """Probability of every class; with tta, from the logits averaged over the 8 rotations/flips.

        Then the checkpoint's post-hoc steps, as in its test evaluation: logit adjustment and the
        temperature fitted on validation, so the confidences shown are the calibrated ones.
        """
        x = self.normalize(self.preprocess(image).to(self.device))
        with torch.inference_mode():
            if tta:
                logits = view_averaged_logits(list(self.model(torch.cat(dihedral_views(x))).split(1)))
            else:
                logits = self.model(x)
        probs = apply_posthoc(logits.double().cpu().numpy(), self.card.posthoc)[0]
        return dict(zip(self.class_names, probs.tolist(), strict=True))
