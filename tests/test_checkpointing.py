import os
from unittest import mock

import pytest
import torch

from astro.checkpointing import TopK, load_checkpoint, load_weights, save_checkpoint
from astro.errors import CheckpointError
from astro.models.astro_cnn import AstroCNN


def payload(model=None, classes=10):
    model = model or AstroCNN(num_classes=classes)
    return {
        "model_state": model.state_dict(),
        "config": {"model": {"_target_": "astro.models.astro_cnn.AstroCNN"}},
        "class_names": [f"c{i}" for i in range(classes)],
        "normalization": {"mean": [0.1] * 3, "std": [0.2] * 3},
        "image_size": 64,
    }


def test_round_trip(tmp_path):
    model = AstroCNN()
    path = save_checkpoint(tmp_path / "a.pt", payload(model))
    loaded = load_checkpoint(path)
    fresh = AstroCNN()
    load_weights(fresh, loaded, path)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True)
    )
    assert loaded["format_version"] == 1 and not list(tmp_path.glob(".a.pt.*"))


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", {**payload(), "epoch": 1})
    with (
        mock.patch("os.fsync", side_effect=OSError(28, "No space left on device")),
        pytest.raises(OSError),
    ):
        save_checkpoint(path, {**payload(), "epoch": 2})
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["last.pt"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"garbage", "truncated or corrupt"),
        ("dict", "not an astro checkpoint"),
    ],
)
def test_bad_checkpoints(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content == "dict":
        torch.save({"weights": 1}, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "full.pt", payload())
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"cut\.pt"):
        load_checkpoint(cut)


def test_wrong_class_count_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "four.pt", payload(classes=4))
    with pytest.raises(CheckpointError, match="4 classes"):
        load_weights(AstroCNN(num_classes=10), load_checkpoint(path), path)


def test_top_k_keeps_the_best(tmp_path):
    top = TopK(tmp_path, k=2)
    for epoch, score in enumerate([0.1, 0.5, 0.3, 0.7, 0.2], start=1):
        top.update(score, epoch, {"epoch": epoch})
    assert [e[0] for e in top.entries] == [0.7, 0.5]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "epoch002-score0.5000.pt",
        "epoch004-score0.7000.pt",
    ]
    assert top.best.name == "epoch004-score0.7000.pt"
