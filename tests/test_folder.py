"""Image-folder / CSV sources: both layouts, label maps, decoding, skipped images, every kind of bad input."""

import csv
import logging

import numpy as np
import pytest
from hydra.utils import instantiate
from PIL import Image

from astro.data.cache import build_cache, cache_key
from astro.data.folder import ImageFolderSource
from astro.errors import DataError
from tests.conftest import compose_train


def save(path, size=(40, 30), colour=(0, 200, 0), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(path)
    return path


def manifest(path, rows, columns=("filename", "label", "class_name")):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    return str(path)


def four_classes(root, per_class=3, extra_rows=()):
    """CSV data set: labels 0-3 named a, b, c, d (plus extra_rows); returns the manifest path."""
    rows = []
    for label, name in enumerate("abcd"):
        for i in range(per_class):
            save(root / f"{name}{i}.png", colour=(10 * label, 100, 0))
            rows.append((f"{name}{i}.png", label, name))
    return manifest(root / "labels.csv", [*rows, *extra_rows])


def test_subfolders_decode_to_centre_crop_at_decode_size(tmp_path):
    wide = Image.new("RGB", (60, 20), (255, 0, 0))
    wide.paste((0, 255, 0), (10, 0, 50, 20))  # red 10 px bands at both sides, green centre
    (tmp_path / "spiral").mkdir()
    wide.save(tmp_path / "spiral" / "wide.png")
    save(tmp_path / "elliptical" / "tall.jpg", size=(20, 50), colour=(0, 0, 255))
    save(tmp_path / "elliptical" / "grey.png", size=(16, 16), colour=(90, 90, 90), mode="L")
    (tmp_path / "elliptical" / "notes.txt").write_text("not an image, not listed")
    source = ImageFolderSource(str(tmp_path), decode_size=8)
    assert source.class_names == ("elliptical", "spiral") and len(source) == 3
    (chunk,) = list(source.iter_chunks(16))
    assert chunk.shape == (3, 8, 8, 3) and chunk.dtype == np.uint8
    assert source.labels().tolist() == [0, 0, 1]
    assert (chunk[0] == 90).all()  # greyscale -> RGB
    assert chunk[1][..., 2].min() > 200  # the blue JPEG
    assert (chunk[2][..., 1] == 255).all() and (chunk[2][..., 0] == 0).all()  # only the centre survives


def test_csv_manifest_class_names_and_unlisted_files(tmp_path):
    save(tmp_path / "x.png")
    save(tmp_path / "y.png")
    save(tmp_path / "sample_extra.png")  # in the folder, not in the manifest: ignored
    rows = [("x.png", 3, "edge_on"), ("y.png", 7, "merger")]
    source = ImageFolderSource(str(tmp_path), manifest(tmp_path / "labels.csv", rows), decode_size=8)
    assert source.class_names == ("edge_on", "merger") and source.labels().tolist() == [0, 1]
    assert len(source) == 2
    names = [f"c{i}" for i in range(8)]
    names[3], names[7] = "edge_on", "merger"
    pinned = ImageFolderSource(str(tmp_path), str(tmp_path / "labels.csv"), class_names=names)
    assert pinned.class_names == tuple(names) and pinned.labels().tolist() == [3, 7]  # indices kept


def test_label_map_merges_drops_and_changes_the_fingerprint(tmp_path):
    path = four_classes(tmp_path)
    plain = ImageFolderSource(str(tmp_path), path, decode_size=8)
    mapped = ImageFolderSource(
        str(tmp_path), path, label_map={"b": "bc", "c": "bc", "a": None}, decode_size=8
    )
    assert mapped.class_names == ("bc", "d") and len(mapped) == 9
    assert mapped.labels().tolist() == [0] * 6 + [1] * 3
    assert cache_key(plain, 8, "bilinear") != cache_key(mapped, 8, "bilinear")
    again = ImageFolderSource(str(tmp_path), path, label_map={"c": "bc", "b": "bc", "a": None}, decode_size=8)
    assert again.fingerprint() == mapped.fingerprint()


def test_fingerprint_follows_file_content_and_decode_settings(tmp_path):
    path = four_classes(tmp_path)
    before = ImageFolderSource(str(tmp_path), path, decode_size=8).fingerprint()
    assert ImageFolderSource(str(tmp_path), path, decode_size=8).fingerprint() == before
    assert ImageFolderSource(str(tmp_path), path, decode_size=16).fingerprint() != before
    save(tmp_path / "a0.png", size=(41, 30))
    assert ImageFolderSource(str(tmp_path), path, decode_size=8).fingerprint() != before


def test_max_images_keeps_a_stratified_subset(tmp_path):
    path = four_classes(tmp_path, per_class=10)
    source = ImageFolderSource(str(tmp_path), path, max_images=20, decode_size=8)
    assert len(source) == 20 and np.bincount(source.labels()).tolist() == [5, 5, 5, 5]


def test_unreadable_images_are_skipped_with_a_warning(tmp_path, caplog):
    path = four_classes(tmp_path, per_class=5, extra_rows=[("cut.jpg", 2, "c"), ("c5.jpg", 2, "c")])
    (tmp_path / "b1.png").write_bytes(b"not a png")
    save(tmp_path / "c5.jpg", size=(64, 64))
    data = save(tmp_path / "cut.jpg", size=(64, 64)).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    source = ImageFolderSource(str(tmp_path), path, decode_size=8, max_bad_fraction=0.1)
    assert len(source) == 22
    with caplog.at_level(logging.WARNING, logger="astro.data.folder"):
        cache = build_cache(source, 8, "bilinear", str(tmp_path / "cache"), chunk_size=4)
    assert cache.images.shape == (20, 3, 8, 8) and len(cache.labels) == 20
    assert np.bincount(cache.labels).tolist() == [5, 4, 6, 5]
    assert "skipped 2 of 22" in caplog.text and "b1.png" in caplog.text and "cut.jpg" in caplog.text


def test_too_many_bad_images_stop_the_build_and_leave_no_cache(tmp_path):
    path = four_classes(tmp_path, per_class=5)
    for name in ("a1.png", "b2.png", "c3.png"):
        (tmp_path / name).write_bytes(b"")
    source = ImageFolderSource(str(tmp_path), path, decode_size=8, max_bad_fraction=0.1)
    with pytest.raises(DataError, match=r"3 of 20 images are missing or unreadable.*a1\.png") as err:
        build_cache(source, 8, "bilinear", str(tmp_path / "cache"))
    assert "\n" not in str(err.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_listed_files_count_as_bad(tmp_path):
    path = four_classes(tmp_path, per_class=5)
    (tmp_path / "d4.png").unlink()
    assert len(ImageFolderSource(str(tmp_path), path, max_bad_fraction=0.1)) == 19
    with pytest.raises(DataError, match=r"1 of 20 .*d4\.png"):
        ImageFolderSource(str(tmp_path), path, max_bad_fraction=0.0)


def test_image_folder_config_builds_the_datamodule(tmp_path):
    for name in ("round", "edge_on"):
        for i in range(6):
            save(tmp_path / "images" / name / f"{i}.png", size=(50, 40))
    cfg = compose_train(
        ["data=image_folder", f"data.source.root={tmp_path / 'images'}", f"paths.cache_dir={tmp_path / 'c'}"]
    )
    data = instantiate(cfg.data)
    assert data.class_names == ("edge_on", "round")
    assert data.cache.images.shape == (12, 3, cfg.image_size, cfg.image_size)
    assert sum(row["train"] + row["val"] + row["test"] for row in data.class_table()) == 12


def bad_manifest(root, rows, columns=("filename", "label", "class_name")):
    save(root / "a.png")
    return {"root": str(root), "manifest": manifest(root / "labels.csv", rows, columns)}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: {"root": str(p / "absent")}, "absent: image folder not found"),
        (lambda p: {"root": str(p), "manifest": str(p / "none.csv")}, "none.csv: manifest CSV not found"),
        (lambda p: {"root": str(p)}, "no class subfolders"),
        (lambda p: {"root": str(p), "class_names": ["a"]}, "class_names needs a manifest"),
        (lambda p: bad_manifest(p, [("a.png", 0)], ("filename", "klass")), "missing column 'label'"),
        (lambda p: bad_manifest(p, []), "labels.csv: no rows"),
        (lambda p: bad_manifest(p, [("a.png", "spiral", "s")]), "line 2 has label 'spiral', not an integer"),
        (lambda p: bad_manifest(p, [("a.png", 0, "s"), ("a.png", 0, "e")]), "named both 's' and 'e'"),
        (
            lambda p: {**bad_manifest(p, [("a.png", 5, "s")]), "class_names": ["s", "e"]},
            "label 5 is outside 0-1",
        ),
        (
            lambda p: {**bad_manifest(p, [("a.png", 1, "s")]), "class_names": ["s", "e"]},
            "label 1 is 's' in the CSV but 'e' in class_names",
        ),
        (
            lambda p: {**bad_manifest(p, [("a.png", 0, "s")]), "label_map": {"spiral": "x"}},
            r"label_map names unknown classes \['spiral'\]",
        ),
        (
            lambda p: {**bad_manifest(p, [("a.png", 0, "s")]), "label_map": {"s": None}},
            "no images found",
        ),
        (lambda p: {**bad_manifest(p, [("a.png", 0, "s")]), "resample": "lanczos"}, "resample='lanczos'"),
    ],
)
def test_bad_input_gives_one_sentence_naming_the_file(tmp_path, make, message):
    kwargs = make(tmp_path)
    with pytest.raises(DataError, match=message) as err:
        ImageFolderSource(**kwargs)
    assert "\n" not in str(err.value)


def test_empty_class_folder_is_named(tmp_path):
    save(tmp_path / "spiral" / "a.png")
    (tmp_path / "merger").mkdir()
    with pytest.raises(DataError, match=r"classes \['merger'\] have no images"):
        ImageFolderSource(str(tmp_path))
    assert ImageFolderSource(str(tmp_path), label_map={"merger": None}).class_names == ("spiral",)


def test_include_keeps_the_matching_half_and_names_bad_patterns(tmp_path):
    csv_path = four_classes(tmp_path)
    half = ImageFolderSource(str(tmp_path), manifest=csv_path, include=r"[a-d][01]\.png")
    assert len(half) == 8 and np.bincount(half.labels()).tolist() == [2, 2, 2, 2]
    whole = ImageFolderSource(str(tmp_path), manifest=csv_path)
    assert half.fingerprint() != whole.fingerprint()
    with pytest.raises(DataError, match=r"include='\[' is not a valid regular expression"):
        ImageFolderSource(str(tmp_path), manifest=csv_path, include="[")
    with pytest.raises(DataError, match=r"no listed image matches include='z\.\*'"):
        ImageFolderSource(str(tmp_path), manifest=csv_path, include="z.*")
