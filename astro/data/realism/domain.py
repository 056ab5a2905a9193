"""One number for realism: how well a simple classifier tells real cutouts from synthetic ones.

A standardised logistic regression on 32x32 RGB pixels (area-downsampled), scored by ROC-AUC over 5-fold
stratified cross-validation: 0.5 means the two domains are indistinguishable to it, 1.0 perfectly apart.
Classes are balanced by weight, so the score does not depend on how many synthetic cutouts are drawn.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PIXELS = 32


def features(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float (N, 3 * 32 * 32), area-downsampled and scaled to 0-1."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return F.interpolate(x, size=(PIXELS, PIXELS), mode="area").flatten(1).numpy()


def domain_auc(real: np.ndarray, synthetic: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC-AUC of real (1) vs synthetic (0) from the pixels alone."""
    return separability(features(real), features(synthetic), folds, seed)


def separability(first: np.ndarray, second: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC-AUC of a standardised logistic regression telling two sets of feature
    vectors (N, D) apart: 0.5 when it cannot, 1.0 when they never overlap."""
    x = np.concatenate([first, second])
    y = np.concatenate([np.ones(len(first)), np.zeros(len(second))])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"))
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, x, y, cv=splits, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, scores))
