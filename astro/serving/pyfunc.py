"""The trained model as an MLflow pyfunc model: `model/` of each training run.

Its predict takes images (a DataFrame column `image` whose cells are encoded PNG/JPEG/... bytes, which
the REST API of `mlflow models serve` receives as base64, or uint8 arrays (H, W, 3)) and returns
one row of calibrated class probabilities per image. Inside is the checkpoint itself and the demo's
Classifier: the same decoding, preprocessing and post-hoc steps as everywhere else in astro.

Each run logs it with MLflow 3's log_model (a LoggedModel, in the Models tab, `models:/<model_id>`) from
a models-from-code file (astro/serving/model_code.py) and declares astro and its torch as requirements:
`mlflow models serve --env-manager local` runs where astro is installed. Models logged before that (a
pickled GalaxyMorphologyModel plus a copy of the package, `save_served_model`) still load.
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import Model, infer_signature
from packaging.requirements import Requirement
from PIL import Image

from astro.checkpoint.card import ModelCard
from astro.checkpoint.io import load_checkpoint
from astro.serving.classifier import Classifier
from astro.tracking.tracker import Tracker

log = logging.getLogger(__name__)
ARTIFACT_PATH = "model"
PACKAGE = Path(__file__).resolve().parent
MODEL_CODE = Path(__file__).resolve().with_name("model_code.py")
SERVING_DISTRIBUTIONS = ("torch", "torchvision")  # astro's own pins of these go into the requirements


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


def _signature_and_example(checkpoint: Path):
    classifier = Classifier(load_checkpoint(checkpoint))
    example = pd.DataFrame({"image": [example_image()]})
    output = pd.DataFrame([classifier.predict(example_image())], columns=classifier.class_names)
    return infer_signature(example, output, params={"tta": False}), example, model_metadata(classifier.card)


def model_metadata(card: ModelCard) -> dict[str, object]:
    """What the logged model says about itself (MLflow's model page, `get_model_info(uri).metadata`):
    the data it learnt from and what it was adapted to."""
    adaptation = card.adaptation
    return {
        "trained_on": card.training.data_name,
        "image_size": card.preprocessing.image_size,
        "adapted_to": adaptation.summary() if adaptation else "nothing (source survey only)",
        "adaptation": asdict(adaptation) if adaptation else None,
    }


def requirements() -> list[str]:
    """astro at its installed version and its own torch / torchvision pins (what the model imports)."""
    try:
        needs = [Requirement(r) for r in metadata.requires("astro") or []]
        version = metadata.version("astro")
    except metadata.PackageNotFoundError:  # a checkout that is not installed: torch as it runs here
        return [f"torch=={metadata.version('torch')}"]
    ranges = [f"{r.name}{r.specifier}" for r in needs if r.name in SERVING_DISTRIBUTIONS and not r.marker]
    return [f"astro=={version}", *ranges]


def log_served_model(tracker: Tracker, checkpoint: Path) -> str | None:
    """Log the run's MLflow model (models-from-code, the checkpoint as its one artifact); its model id.
    Offline (store unreachable), say so and skip: a model is not something the journal can replay."""
    if tracker.offline or tracker.run_id is None:
        log.warning("MLflow store unreachable: the run's MLflow model is not logged")
        return None
    signature, example, about = _signature_and_example(checkpoint)
    mlflow.set_experiment(experiment_id=tracker.experiment_id)  # where the LoggedModel is created
    info = Model.log(
        artifact_path=None,
        name=ARTIFACT_PATH,
        flavor=mlflow.pyfunc,
        run_id=tracker.run_id,
        python_model=str(MODEL_CODE),
        artifacts={"checkpoint": str(checkpoint)},
        signature=signature,
        input_example=example,
        pip_requirements=requirements(),
        model_type="galaxy-morphology classifier",
        metadata=about,
    )
    return info.model_id


def save_served_model(checkpoint: Path, path: Path) -> Path:
    """The format before log_served_model: a pickled GalaxyMorphologyModel with a copy of the astro
    package (code_paths) and no requirements. Not written by training any more; kept so that tests can
    build such a model and check that it still loads (tests/test_moved.py)."""
    signature, example, _ = _signature_and_example(checkpoint)
    pyfunc_log = logging.getLogger("mlflow.pyfunc")  # it warns that a pickled PythonModel is used
    level = pyfunc_log.level
    pyfunc_log.setLevel(logging.ERROR)
    try:
        mlflow.pyfunc.save_model(
            path,
            python_model=GalaxyMorphologyModel(),
            artifacts={"checkpoint": str(checkpoint)},
            code_paths=[str(PACKAGE)],
            signature=signature,
            input_example=example,
            pip_requirements=[],
        )
    finally:
        pyfunc_log.setLevel(level)
    return path
