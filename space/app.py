"""Galaxy-morphology demo: upload an image, get all 10 class probabilities, a Grad-CAM map and the
model's provenance.

    python space/app.py [--checkpoint PATH | runs:/<run_id>/checkpoints/best.pt | models:/<name>/<version>]
                        [--port N] [--host ADDRESS]

The same file is the app_file of the Hugging Face Space (front matter: space/README.md; docs/demo.md).
Without --checkpoint or ASTRO_CHECKPOINT it serves the best checkpoint of the newest finished run in the
MLflow store.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

# A Space runs this file as a script from the repository root, without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from astro.checkpoint.io import load_checkpoint
from astro.data.galaxy10 import CLASS_NAMES
from astro.data.images import load_image
from astro.data.synthetic import render
from astro.errors import AstroError, ImageError
from astro.paths import default_tracking_uri
from astro.serving.classifier import Classifier
from astro.serving.gradcam import explain
from astro.serving.source import provenance, resolve

# Averaging over the 8 rotations/flips raised held-out accuracy in the measurement in docs/demo.md.
TTA_DEFAULT = True
EXAMPLE_SEED = 20240517
HOW_TO_GET_A_MODEL = (
    "Train one with **`make train`** (about 5 minutes on 2 CPU cores), then restart this app. "
    "To serve a checkpoint you already have: `python space/app.py --checkpoint path/to/best.pt` "
    "(or set `ASTRO_CHECKPOINT`; MLflow URIs `runs:/<run_id>/checkpoints/best.pt` and "
    "`models:/<name>/<version>` work too)."
)


def load_model(reference: str | None, uri: str) -> tuple[Classifier | None, str]:
    """The classifier and its provenance panel, or None and a panel saying how to get a model."""
    try:
        found = resolve(reference, uri)
        if found is None:
            return None, f"**No trained model found** (MLflow store: `{uri}`). {HOW_TO_GET_A_MODEL}"
        classifier = Classifier(load_checkpoint(found.path))
    except AstroError as exc:
        return None, f"**The model could not be loaded:** {exc}. {HOW_TO_GET_A_MODEL}"
    about = provenance(classifier.card, found.description, uri)
    note = ""
    if about.data_name == "synthetic":
        note = (
            "\n\nThis model has only seen the project's procedural galaxies; "
            "expect mistakes on real survey images."
        )
    return classifier, about.markdown() + note


def render_examples(directory: Path, class_names: Sequence[str] = CLASS_NAMES) -> list[tuple[Path, str]]:
    """One synthetic galaxy per class, rendered by the project's generator (no third-party images shipped)."""
    directory.mkdir(parents=True, exist_ok=True)
    examples = []
    for label, name in enumerate(class_names):
        path = directory / f"synthetic_{label}_{name}.png"
        Image.fromarray(render(label, np.random.default_rng([EXAMPLE_SEED, label]))).save(path)
        examples.append((path, f"synthetic: {name}"))
    return examples


def classify(
    classifier: Classifier | None, upload: dict[str, Any] | None, tta: bool
) -> tuple[dict[str, float] | None, Image.Image | None, str]:
    """The click handler on the raw upload, so that undecodable files reach our checks and messages."""
    if classifier is None:
        return None, None, f"**No model loaded.** {HOW_TO_GET_A_MODEL}"
    if not upload or not upload.get("path"):
        return None, None, "Upload an image or pick one of the synthetic examples first."
    try:
        image = load_image(upload["path"])
        probabilities = classifier.predict(image, tta)
        top = max(probabilities, key=probabilities.__getitem__)
        saliency = explain(classifier, image, top)
    except ImageError as exc:
        gr.Warning(f"Cannot classify this file: {exc}")
        return None, None, f"**Cannot classify this file:** {exc}."
    views = "mean over the 8 rotations/flips" if tta else "single view"
    side, size = min(image.size), classifier.preprocessing.image_size
    with Image.open(upload["path"]) as original:
        mode = original.mode
    converted = "" if mode == "RGB" else f" The upload (PIL mode {mode}) was converted to 8-bit RGB."
    status = (
        f"Top class **{top}** ({probabilities[top]:.1%}, {views}). The model saw the centre square "
        f"({side}x{side} px) resized to {size}x{size} px.{converted}"
    )
    return probabilities, saliency, status


def build_app(classifier: Classifier | None, about: str, examples: list[tuple[Path, str]]) -> gr.Blocks:
    with gr.Blocks(title="astro: galaxy morphology") as demo:
        gr.Markdown(
            "# Galaxy morphology classifier\n"
            "Upload a galaxy cutout (PNG, JPEG, ...; any size, colour or greyscale). The model looks at the "
            "centre square, like the Galaxy10 DECaLS cutouts it was trained on."
        )
        if classifier is None:
            gr.Markdown(about, elem_id="no-model")
        with gr.Row():
            with gr.Column():
                image = gr.Image(
                    label="Galaxy image",
                    type="filepath",
                    sources=["upload", "clipboard"],
                    elem_id="galaxy-image",
                )
                tta = gr.Checkbox(
                    value=TTA_DEFAULT, label="Test-time augmentation: average over the 8 rotations/flips"
                )
                submit = gr.Button("Classify", variant="primary", elem_id="classify")
                status = gr.Markdown(elem_id="status")
            with gr.Column():
                label = gr.Label(num_top_classes=10, label="Class probabilities", elem_id="prediction")
                saliency = gr.Image(
                    label="Grad-CAM: where the evidence for the top class is (outside the square is dimmed)",
                    type="pil",
                    format="png",
                    interactive=False,
                    elem_id="gradcam",
                )
        gallery = gr.Gallery(
            value=[(str(path), caption) for path, caption in examples],
            label="Synthetic examples (rendered by astro.data.synthetic, not real galaxies): click to load",
            columns=5,
            object_fit="contain",
            allow_preview=False,
            elem_id="examples",
        )
        if classifier is not None:
            with gr.Accordion("Model provenance", open=True):
                gr.Markdown(about, elem_id="provenance")
        submit.click(
            lambda upload, use_tta: classify(classifier, upload, use_tta),
            inputs=[image, tta],
            outputs=[label, saliency, status],
            preprocess=False,
            api_name="classify",
            concurrency_limit=1,  # one shared model, and Grad-CAM hooks into it while it runs
        )

        def pick(event: gr.SelectData) -> str:
            return str(examples[event.index][0])

        gallery.select(pick, None, image, api_visibility="private")
    return demo


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint",
        default=os.environ.get("ASTRO_CHECKPOINT") or None,
        help="checkpoint file, runs:/<run_id>/<path> or models:/<name>/<version> "
        "(default: $ASTRO_CHECKPOINT, else the newest finished run's best checkpoint)",
    )
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: one small image gains little from more, and on a busy CPU "
        "extra threads wait on each other: 8-view TTA took 17 ms with 1 thread, 200 ms with 2)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    classifier, about = load_model(args.checkpoint, default_tracking_uri())
    print(about, file=sys.stderr)
    examples = render_examples(Path(tempfile.mkdtemp(prefix="astro-examples-")))
    build_app(classifier, about, examples).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
