"""How far apart two surveys are in a trained model's eyes: a domain classifier on the model's features.

python -m astro domain-gap CHECKPOINT --source <images> --target <images> [--target-field 0.5]

The features are what enters the model's head (astro.adaptation.features), computed in eval mode as at
test time, for a seeded sample of each set (a folder, a manifest.csv or a Galaxy10 .h5, read as predict.py
reads its input). The number is the cross-validated ROC-AUC of a logistic regression telling the two
apart (astro.data.realism.domain.separability): 0.5 means the model sees no difference between the surveys;
a linear classifier on hundreds of features saturates at 1.0 long before the surveys look alike, so the
squared MMD of the two feature samples (as adapt=mmd measures it) is reported beside it as a graded distance.
Train-time alignment (adapt=mmd|coral|dann) should lower it; this measures whether it did.
The two sets must not share images: a duplicate on both sides is scored against its own twin, which
pushes the AUC below 0.5.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from astro.adaptation.alignment import MMDAlignment
from astro.adaptation.features import FeatureTap
from astro.checkpoint.io import Checkpoint, load_checkpoint
from astro.data.realism.domain import separability
from astro.data.transforms import Normalize
from astro.data.unlabeled import load_unlabeled

MMD_IMAGES = 500  # per side for the feature MMD (a 1,000 x 1,000 kernel)


def model_features(checkpoint: Checkpoint, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """The model's feature vectors (N, D) of uint8 model inputs, in eval mode."""
    card = checkpoint.card
    model = checkpoint.load_into(card.build_model()).eval()
    tap, normalize, out = FeatureTap(model), Normalize(card.preprocessing.mean, card.preprocessing.std), []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            model(normalize(images[start : start + batch_size]))
            out.append(tap.features.numpy().copy())
    tap.close()
    return np.concatenate(out)


def domain_gap(args: argparse.Namespace) -> dict[str, object]:
    checkpoint = load_checkpoint(args.checkpoint)
    prep = checkpoint.card.preprocessing
    sets = {
        side: load_unlabeled(path, prep.image_size, prep.resize, field, args.samples, args.seed)
        for side, path, field in (
            ("source", args.source, args.source_field),
            ("target", args.target, args.target_field),
        )
    }
    feats = {side: model_features(checkpoint, images.images) for side, images in sets.items()}
    auc = separability(feats["target"], feats["source"], seed=args.seed)
    source, target = (torch.from_numpy(feats[side][:MMD_IMAGES]) for side in ("source", "target"))
    mmd = MMDAlignment(source.shape[1], 1).distance(source, target)
    return {
        "checkpoint": str(args.checkpoint),
        "feature_domain_auc": round(auc, 4),
        "feature_mmd": round(float(mmd), 4),
        "source": {"path": args.source, "images": len(sets["source"]), "field": args.source_field},
        "target": {"path": args.target, "images": len(sets["target"]), "field": args.target_field},
        "adapted_to": checkpoint.card.adaptation.summary() if checkpoint.card.adaptation else None,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m astro domain-gap", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--source", required=True, help="images of the survey the model learnt from")
    parser.add_argument("--target", required=True, help="images of the survey it is meant for")
    parser.add_argument("--source-field", type=float, default=1.0)
    parser.add_argument("--target-field", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=1000, help="at most this many images per side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the result here as JSON")
    args = parser.parse_args(argv)
    result = domain_gap(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
