import os
from dataclasses import replace
from unittest import mock

import pytest
import torch

from astro.checkpoint.card import FORMAT_VERSION, ModelCard, PosthocSteps, Preprocessing, TrainingRecord
from astro.checkpoint.io import Checkpoint, load_checkpoint, save_checkpoint
from astro.errors import CheckpointError
from astro.models.astro_cnn import AstroCNN
from astro.training.checkpoints import TopK

MODEL = {"_target_": "astro.models.astro_cnn.AstroCNN"}


def card(classes: int = 10, **posthoc) -> ModelCard:
    return ModelCard(
        class_names=tuple(f"c{i}" for i in range(classes)),
        preprocessing=Preprocessing(64, "bilinear", (0.1,) * 3, (0.2,) * 3),
        model=MODEL,
        posthoc=PosthocSteps(**posthoc),
        training=TrainingRecord(run_id="abc", data_name="synthetic", epoch=3, metrics={"val/macro_f1": 0.5}),
        config={"model": MODEL, "data": {"name": "synthetic"}},
    )


def checkpoint(model=None, classes=10) -> Checkpoint:
    return Checkpoint(card(classes), (model or AstroCNN(num_classes=classes)).state_dict())


def test_round_trip_keeps_the_card_and_the_weights(tmp_path):
    model = AstroCNN()
    steps = {"tau": 1.0, "prior": (0.1,) * 10, "temperature": 1.7}
    path = save_checkpoint(tmp_path / "a.pt", Checkpoint(card(**steps), model.state_dict()))
    loaded = load_checkpoint(path)
    assert loaded.card == card(**steps) and loaded.card.format_version == FORMAT_VERSION
    rebuilt = loaded.model()
    assert not rebuilt.training and all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values(), strict=True)
    )
    assert not list(tmp_path.glob(".a.pt.*"))


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    first = checkpoint()
    path = save_checkpoint(tmp_path / "last.pt", first)
    later = replace(first, card=replace(first.card, training=replace(first.card.training, epoch=4)))
    with (
        mock.patch("os.fsync", side_effect=OSError(28, "No space left on device")),
        pytest.raises(OSError),
    ):
        save_checkpoint(path, later)
    assert load_checkpoint(path).card.training.epoch == 3
    assert os.listdir(tmp_path) == ["last.pt"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"garbage", "truncated or corrupt"),
        ({"weights": 1}, "format None is not one this astro reads"),
        ({"format_version": 2, "weights": {}}, "missing card"),
        ({"format_version": 2, "card": {"class_names": []}, "weights": {}}, "incomplete model card"),
        ({"format_version": 1, "model_state": {}}, "missing config, class_names, normalization, image_size"),
        ({"format_version": 9}, "format 9 is not one this astro reads"),
        ([1, 2], "a list, not a dict"),
    ],
)
def test_a_foreign_or_broken_file_is_one_sentence_naming_it(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=message) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "full.pt", checkpoint())
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"cut\.pt"):
        load_checkpoint(cut)


def test_wrong_class_count_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "four.pt", checkpoint(classes=4))
    with pytest.raises(CheckpointError, match="4 classes"):
        load_checkpoint(path).load_into(AstroCNN(num_classes=10))


def test_top_k_keeps_the_best(tmp_path):
    top = TopK(tmp_path, k=2)
    for epoch, score in enumerate([0.1, 0.5, 0.3, 0.7, 0.2], start=1):
        top.update(score, epoch, checkpoint())
    assert [e[0] for e in top.entries] == [0.7, 0.5]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "epoch002-score0.5000.pt",
        "epoch004-score0.7000.pt",
    ]
    assert top.best.name == "epoch004-score0.7000.pt"
