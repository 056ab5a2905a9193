"""Format 1 (astro 0.1's flat dict, what main wrote before the ModelCard) still loads, converted.

The payloads below have exactly the keys and value types of a best.pt and a last.pt written by that code
(checked against files it wrote: `python train.py debug=smoke` at commit 5ecec98)."""

import numpy as np
import pytest
import torch
from PIL import Image

from astro.checkpoint.io import load_checkpoint
from astro.data.galaxy10 import CLASS_NAMES
from astro.data.synthetic import render
from astro.evaluation.posthoc import apply_posthoc
from astro.models.astro_cnn import AstroCNN
from astro.serving.classifier import Classifier

PRIOR = [0.057, 0.105, 0.148, 0.114, 0.019, 0.119, 0.105, 0.148, 0.081, 0.104]


def v1_best(model: torch.nn.Module) -> dict:
    config = {
        "model": {
            "_target_": "astro.models.astro_cnn.AstroCNN",
            "in_channels": 3,
            "widths": [32, 64, 128, 256],
        },
        "data": {
            "name": "synthetic",
            "resize": "bilinear",
            "source": {
                "_target_": "astro.data.synthetic.synthetic_galaxy10",
                "path": "/somewhere/data/synthetic/galaxy10_synthetic_n300_seed0.h5",
                "num_images": 300,
                "seed": 0,
                "workers": None,
            },
        },
        "loss": {"gamma": 2.0},
    }
    return {
        "format_version": 1,
        "mlflow_run_id": "7551c925b8094b8eb3363cd505e8d792",
        "model_state": model.state_dict(),
        "config": config,
        "class_names": list(CLASS_NAMES),
        "normalization": {"mean": [0.121719, 0.120648, 0.119228], "std": [0.049774, 0.046214, 0.041464]},
        "image_size": 32,
        "epoch": 2,
        "metrics": {"epoch": 2, "train/loss": 1.74, "val/loss": 1.62, "val/macro_f1": 0.15, "lr": 2e-05},
        "data_name": "synthetic",
        "temperature": 0.147,
        "logit_adjustment": {"tau": 1.0, "prior": PRIOR},
    }


def test_a_format_1_best_pt_loads_with_its_card(tmp_path):
    torch.manual_seed(0)
    model = AstroCNN(widths=[32, 64, 128, 256])
    torch.save(v1_best(model), tmp_path / "best.pt")
    checkpoint = load_checkpoint(tmp_path / "best.pt")
    card = checkpoint.card
    assert card.class_names == CLASS_NAMES and card.architecture == "AstroCNN"
    assert (card.preprocessing.image_size, card.preprocessing.resize) == (32, "bilinear")
    assert (
        card.posthoc.temperature == 0.147 and card.posthoc.tau == 1.0 and card.posthoc.prior == tuple(PRIOR)
    )
    assert card.training.run_id == "7551c925b8094b8eb3363cd505e8d792" and card.training.epoch == 2
    assert card.config["data"]["source"]["directory"] == "/somewhere/data/synthetic"
    assert checkpoint.resume is None
    galaxy = Image.fromarray(render(4, np.random.default_rng(0)))
    classifier = Classifier(checkpoint)
    probs = classifier.predict(galaxy)
    x = classifier.normalize(classifier.preprocess(galaxy))
    with torch.no_grad():
        expected = apply_posthoc(model.eval()(x).double().numpy(), card.posthoc)[0]
    assert list(probs.values()) == pytest.approx(expected.tolist())


def test_a_format_1_last_pt_keeps_its_resume_state(tmp_path):
    model = AstroCNN()
    optimizer = torch.optim.AdamW(model.parameters())
    payload = {
        **v1_best(model),
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": {"last_epoch": 7},
        "rng": {"torch": torch.get_rng_state()},
        "history": [{"epoch": 1, "val/macro_f1": 0.1}, {"epoch": 2, "val/macro_f1": 0.15}],
        "top_k": [[0.15, 2, "/run/checkpoints/epoch002-score0.1500.pt"]],
        "partial": {
            "epoch": 3,
            "plan": [[0, 1], [2, 3]],
            "progress": {"steps": 1, "loss_sum": 2.0, "seen": 2},
        },
        "output_dir": "/run",
        "config_hash": "abc123",
    }
    torch.save(payload, tmp_path / "last.pt")
    state = load_checkpoint(tmp_path / "last.pt").resume
    assert state.epoch == 2 and state.output_dir == "/run" and state.config_hash == "abc123"
    assert state.top_k == [(0.15, 2, "/run/checkpoints/epoch002-score0.1500.pt")]
    assert (
        state.partial.epoch == 3
        and state.partial.progress.steps == 1
        and state.partial.plan == [[0, 1], [2, 3]]
    )
