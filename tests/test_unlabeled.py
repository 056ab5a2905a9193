"""The target survey's unlabelled cutouts (astro.data.unlabeled): read like predict.py's input, sampled
with a seed, and refused in one line when there is nothing usable."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from astro.data.unlabeled import TargetBatches, load_unlabeled
from astro.errors import DataError


def write_pngs(folder, count: int, size: int = 48) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"g{i:02d}.png")


def test_a_folder_is_read_at_the_training_size_with_a_seeded_bounded_sample(tmp_path):
    write_pngs(tmp_path / "target", 12)
    everything = load_unlabeled(str(tmp_path / "target"), 32, "bilinear", 1.0, 100, seed=0)
    assert everything.images.shape == (12, 3, 32, 32) and everything.images.dtype == torch.uint8
    assert everything.available == 12 and "12 of 12" in everything.fingerprint
    sample = load_unlabeled(str(tmp_path / "target"), 32, "bilinear", 0.5, 5, seed=0)
    again = load_unlabeled(str(tmp_path / "target"), 32, "bilinear", 0.5, 5, seed=0)
    other = load_unlabeled(str(tmp_path / "target"), 32, "bilinear", 0.5, 5, seed=1)
    assert len(sample) == 5 and torch.equal(sample.images, again.images)
    assert not torch.equal(sample.images, other.images)
    assert sample.fingerprint != other.fingerprint and sample.field == 0.5


def test_unreadable_images_are_left_out_with_a_warning(tmp_path, caplog):
    write_pngs(tmp_path / "target", 4)
    (tmp_path / "target" / "broken.png").write_bytes(b"not a png")
    images = load_unlabeled(str(tmp_path / "target"), 32, "bilinear", 1.0, 100, seed=0)
    assert len(images) == 4 and "1 of 5 sampled images unreadable" in caplog.text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "no images in this folder"),
        (
            lambda p: (p.mkdir(), (p / "a.png").write_bytes(b"x"), (p / "b.png").write_bytes(b"y")),
            "0 readable",
        ),
        (lambda p: p.with_suffix(".txt").write_text("x"), "input not found"),
        (
            lambda p: h5py.File(p.with_suffix(".h5"), "w").create_dataset(
                "images", data=np.zeros((4, 8, 8), np.uint8)
            ),
            "expected (N, H, W, 3)",
        ),
    ],
    ids=["empty", "unreadable", "missing", "mis-shaped"],
)
def test_a_source_with_nothing_usable_is_one_sentence_naming_it(tmp_path, make, message):
    target = tmp_path / "target"
    make(target)
    path = str(target.with_suffix(".h5")) if message.startswith("expected") else str(target)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        load_unlabeled(path, 32, "bilinear", 1.0, 100, seed=0)
    assert "\n" not in str(caught.value) and "target" in str(caught.value)


def test_target_batches_draw_with_the_generator_and_transform_like_training():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 3, 4, 4).contiguous()
    draw = TargetBatches(
        images, 6, lambda x: x.float() * 2, torch.device("cpu"), torch.Generator().manual_seed(1)
    )
    again = TargetBatches(
        images, 6, lambda x: x.float() * 2, torch.device("cpu"), torch.Generator().manual_seed(1)
    )
    first = draw.draw()
    assert first.shape == (6, 3, 4, 4) and first.dtype == torch.float32
    assert torch.equal(first, again.draw()) and (first[:, 0, 0, 0] % 2 == 0).all()
