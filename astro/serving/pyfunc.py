"""The trained model as an MLflow pyfunc model: `model/` of each training run.

Its predict takes images (a DataFrame column `image` whose cells are encoded PNG/JPEG/... bytes, which
the REST API of `mlflow models serve` receives as base64, or uint8 arrays (H, W, 3)) and returns
one row of calibrated class probabilities per image. Inside is the checkpoint itself and the demo's
Classifier: the same decoding, preprocessing and post-hoc steps as everywhere else in astro. The astro
package travels in the model (code_paths), so `mlflow models serve --env-manager local` needs only the
project's dependencies.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from PIL import Image

from astro.checkpoint.io import load_checkpoint
from astro.serving.classifier import Classifier
from astro.tracking.tracker import Tracker

log = logging.getLogger(__name__)
ARTIFACT_PATH = "model"
PACKAGE = Path(__file__).resolve().parent


class GalaxyMorphologyModel(mlflow.pyfunc.PythonModel):
    """Images in, a DataFrame of class probabilities out (columns: the class names)."""

    # MLflow's own switch for models whose `predict` has no type hints to validate against: this one
    # declares an explicit signature (save_served_model). Without it, MLflow 3.16 warns at import.
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        self.classifier = Classifier(load_checkpoint(context.artifacts["checkpoint"]))

    def predict(self, context, model_input, params: dict | None = None) -> pd.DataFrame:
        tta = bool((params or {}).get("tta", False))
        rows = [self.classifier.predict(image, tta=tta) for image in images_of(model_input)]
        return pd.DataFrame(rows, columns=self.classifier.class_names)


def images_of(model_input: pd.DataFrame) -> list:
    """The images of a request's `image` column: encoded bytes, or uint8 arrays (H, W, 3)."""
    values = model_input["image"].tolist() if "image" in model_input else model_input.iloc[:, 0].tolist()
    return [
        Image.fromarray(np.asarray(v, dtype=np.uint8)) if isinstance(v, np.ndarray) else bytes(v)
        for v in values
    ]


def example_image(size: int = 64) -> bytes:
    """A smooth elliptical galaxy (a Sersic-like profile, n = 1) as PNG bytes: the model's input example.
    Drawn here rather than by the synthetic generator, so serving needs nothing of the data stack."""
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    radius = np.hypot(x / 1.0, y / 0.6) / (size / 10)
    light = np.exp(-radius)[..., None] * np.array([255, 230, 200]) + 8
    buffer = io.BytesIO()
    Image.fromarray(np.clip(light, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def save_served_model(checkpoint: Path, path: Path) -> Path:
    """Write the pyfunc model folder for a checkpoint, with its signature and input example."""
    classifier = Classifier(load_checkpoint(checkpoint))
    example = pd.DataFrame({"image": [example_image()]})
    output = pd.DataFrame([classifier.predict(example_image())], columns=classifier.class_names)
    # MLflow 3.16 warns on every save that a pickled PythonModel (not a models-from-code file) is used.
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    pyfunc_log.setLevel(logging.ERROR)
    try:
        mlflow.pyfunc.save_model(
            path,
            python_model=GalaxyMorphologyModel(),
            artifacts={"checkpoint": str(checkpoint)},
            code_paths=[str(PACKAGE)],
            signature=infer_signature(example, output, params={"tta": False}),
            input_example=example,
            pip_requirements=[],
        )
    finally:
        pyfunc_log.setLevel(level)
    return path


def log_served_model(tracker: Tracker, checkpoint: Path) -> None:
    """Log `model/` to the tracker's run; offline (store unreachable), say so and skip: a model folder
    is not something the offline journal can replay."""
    if tracker.offline or tracker.run_id is None:
        log.warning("MLflow store unreachable: the run's pyfunc model/ is not logged")
        return
    folder = Path(tempfile.mkdtemp(prefix="astro-model-"))
    try:
        save_served_model(checkpoint, folder / ARTIFACT_PATH)
        tracker.log_artifacts(folder / ARTIFACT_PATH, ARTIFACT_PATH)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
