"""The Galaxy10 reader: every kind of bad file gives one DataError sentence naming the file."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from astro.data.galaxy10 import PUBLISHED_SHA256, Galaxy10H5
from astro.errors import DataError
from tests.conftest import zero_image_chunks


def write(path, images=None, ans=None, **extra):
    images = np.zeros((4, 8, 8, 3), np.uint8) if images is None else images
    ans = np.arange(4, dtype=np.uint8) if ans is None else ans
    with h5py.File(path, "w") as f:
        if images is not False:
            f.create_dataset("images", data=images)
        if ans is not False:
            f.create_dataset("ans", data=ans)
        for key, value in extra.items():
            f.create_dataset(key, data=value)
    return str(path)


def text_file(path):
    path.write_text("hello")
    return str(path)


def test_valid_file_reads_in_chunks(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    source = Galaxy10H5(write(tmp_path / "ok.h5", images, np.array([0, 1, 2, 9, 9], np.uint8)))
    chunks = list(source.iter_chunks(2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert np.array_equal(np.concatenate(chunks), images)
    assert source.labels().tolist() == [0, 1, 2, 9, 9]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: str(p / "absent.h5"), "file not found"),
        (lambda p: text_file(p / "text.h5"), "not an HDF5 file"),
        (lambda p: write(p / "k.h5", ans=False), "missing dataset 'ans'"),
        (
            lambda p: write(p / "s.h5", images=np.zeros((4, 8, 8), np.uint8)),
            "expected \\(N, H, W, 3\\)",
        ),
        (lambda p: write(p / "d.h5", images=np.zeros((4, 8, 8, 3), np.float32)), "expected uint8"),
        (
            lambda p: write(p / "e.h5", images=np.zeros((0, 8, 8, 3), np.uint8), ans=np.zeros(0)),
            "empty",
        ),
        (lambda p: write(p / "n.h5", ans=np.arange(3)), "to match 'images'"),
        (lambda p: write(p / "l.h5", ans=np.array([0, 1, 12, 3])), "outside 0-9"),
        (lambda p: write(p / "m.h5", ra=np.zeros(7)), "'ra' has 7 rows"),
    ],
)
def test_bad_files_give_one_clear_sentence(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(DataError, match=message) as err:
        Galaxy10H5(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_truncated_file(tmp_path):
    path = write(tmp_path / "full.h5", np.ones((64, 32, 32, 3), np.uint8), np.zeros(64, np.uint8))
    data = Path(path).read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.h5"):
        Galaxy10H5(str(cut))
        list(Galaxy10H5(str(cut)).iter_chunks())


def test_sha256_mismatch(tmp_path):
    with pytest.raises(DataError, match="sha256"):
        Galaxy10H5(write(tmp_path / "x.h5"), sha256="0" * 64)


def test_file_whose_header_survives_but_image_chunks_do_not(tmp_path):
    """An interrupted copy that kept the metadata: validation passes, reading fails with one sentence."""
    path = tmp_path / "partial.h5"
    images = np.random.default_rng(0).integers(0, 255, (8, 16, 16, 3), dtype=np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(1, 16, 16, 3), compression="gzip")
        f.create_dataset("ans", data=np.arange(8, dtype=np.uint8))
    zero_image_chunks(path, range(4, 8))
    source = Galaxy10H5(str(path))
    assert len(source) == 8
    with pytest.raises(
        DataError, match=r"partial\.h5: cannot read image 4 of 8 \(file truncated or corrupt"
    ) as err:
        list(source.iter_chunks(2))
    assert "\n" not in str(err.value)


def test_sha256_published_names_the_published_checksum(tmp_path):
    with pytest.raises(DataError, match=f"does not match expected {PUBLISHED_SHA256}"):
        Galaxy10H5(write(tmp_path / "x.h5"), sha256="published")
