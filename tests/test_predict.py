"""predict.py: the same probabilities as the demo, resumable output, unreadable images kept, sharding."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from PIL import Image

from astro.checkpoint.io import load_checkpoint, save_checkpoint
from astro.data.synthetic import synthetic_path
from astro.errors import AstroError, DataError
from astro.prediction.shards import merge_shards
from astro.prediction.table import ChunkStore
from astro.serving.classifier import Classifier
from predict import predict_catalogue
from tests.conftest import compose_train, run_script


def run_predict(checkpoint: Path | str, source: Path, output: Path, *overrides: str) -> Path:
    cfg = compose_train(
        [f"checkpoint={checkpoint}", f"input={source}", f"output={output}", "progress=false", *overrides],
        name="predict",
    )
    return predict_catalogue(cfg)


def probabilities(table, class_names) -> np.ndarray:
    return np.stack([table[f"prob_{name}"].to_numpy(zero_copy_only=False) for name in class_names], 1)


@pytest.fixture(scope="module")
def h5_file(data_dir: Path) -> Path:
    return synthetic_path(data_dir / "synthetic", 300, seed=0)


@pytest.fixture(scope="module")
def classifier(smoke_model) -> Classifier:
    return Classifier.from_checkpoint(smoke_model["checkpoint"])


@pytest.mark.parametrize("tta", [False, True])
def test_hdf5_rows_equal_the_demo_classifier(smoke_model, h5_file, classifier, tmp_path, tta):
    out = run_predict(
        smoke_model["checkpoint"], h5_file, tmp_path / "p.parquet", f"tta={tta}", "batch_size=50"
    )
    table = pq.read_table(out)
    names = classifier.class_names
    assert table.num_rows == 300 and table["index"].to_pylist() == list(range(300))
    with h5py.File(h5_file) as f:
        rows = [0, 137, 299]
        images, ra = f["images"][rows], f["ra"][rows]
    probs = probabilities(table, names)
    for row, image in zip(rows, images, strict=True):
        expected = classifier.predict(Image.fromarray(image), tta=tta)
        np.testing.assert_allclose(probs[row], [expected[n] for n in names], atol=2e-5)
        assert table["top_class"][row].as_py() == max(expected, key=expected.get)
    np.testing.assert_allclose(table["ra"].to_numpy()[rows], ra)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert table["error"].null_count == 300


def _image_folder(h5_file: Path, root: Path) -> Path:
    with h5py.File(h5_file) as f:
        images = f["images"][:5]
    (root / "sub").mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / ("sub" if i % 2 else "") / f"g{i}.png")
    (root / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root


def test_folder_keeps_unreadable_images_with_a_reason(smoke_model, h5_file, classifier, tmp_path):
    folder = _image_folder(h5_file, tmp_path / "images")
    out = run_predict(
        smoke_model["checkpoint"], folder, tmp_path / "p.csv", "format=csv", "max_bad_fraction=0.5"
    )
    table = pacsv.read_csv(out)
    names = table["filename"].to_pylist()
    assert names == sorted(["broken.jpg", "g0.png", "sub/g1.png", "g2.png", "sub/g3.png", "g4.png"])
    broken = names.index("broken.jpg")
    assert "not an image" in table["error"][broken].as_py()
    probs = probabilities(table, classifier.class_names)
    assert np.isnan(probs[broken]).all()
    good = names.index("sub/g3.png")
    expected = classifier.predict(folder / "sub" / "g3.png")
    np.testing.assert_allclose(probs[good], [expected[n] for n in classifier.class_names], atol=1e-5)
    with pytest.raises(DataError, match=r"1 of 6 images are unreadable.*broken.jpg"):
        run_predict(smoke_model["checkpoint"], folder, tmp_path / "q.parquet", "max_bad_fraction=0.1")


def test_manifest_columns_are_carried(smoke_model, h5_file, tmp_path):
    folder = _image_folder(h5_file, tmp_path / "images")
    manifest = folder / "catalogue.csv"
    manifest.write_text("filename,objid\nsub/g1.png,5877\ng0.png,5878\n")
    table = pq.read_table(run_predict(smoke_model["checkpoint"], manifest, tmp_path / "m.parquet"))
    assert table["filename"].to_pylist() == ["sub/g1.png", "g0.png"]
    assert table["objid"].to_pylist() == ["5877", "5878"]


def test_resume_continues_after_the_last_finished_chunk(smoke_model, h5_file, tmp_path, monkeypatch):
    whole = pq.read_table(
        run_predict(smoke_model["checkpoint"], h5_file, tmp_path / "w.parquet", "chunk_size=64")
    )
    output = tmp_path / "labels.parquet"
    write_chunk = ChunkStore.write_chunk

    def killed_after_two(store, k, table):
        if k == 2:
            raise KeyboardInterrupt
        write_chunk(store, k, table)

    monkeypatch.setattr(ChunkStore, "write_chunk", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_predict(smoke_model["checkpoint"], h5_file, output, "chunk_size=64")
    assert len(ChunkStore(output, "parquet").done()) == 2 and not output.exists()
    written = []
    monkeypatch.setattr(ChunkStore, "write_chunk", lambda s, k, t: (written.append(k), write_chunk(s, k, t)))
    run_predict(smoke_model["checkpoint"], h5_file, output, "chunk_size=64")
    assert written == [2, 3, 4]
    resumed = pq.read_table(output)
    assert pq.ParquetFile(output).num_row_groups == 5
    assert resumed.to_pydict() == whole.to_pydict()
    run_predict(smoke_model["checkpoint"], h5_file, output, "chunk_size=64")  # complete: nothing to do
    assert written == [2, 3, 4]


def test_an_output_of_another_checkpoint_is_refused(smoke_model, h5_file, tmp_path):
    output = run_predict(smoke_model["checkpoint"], h5_file, tmp_path / "labels.parquet")
    other = load_checkpoint(smoke_model["checkpoint"])
    other = replace(other, card=replace(other.card, posthoc=replace(other.card.posthoc, tau=1.0)))
    other_path = save_checkpoint(tmp_path / "other.pt", other)
    with pytest.raises(DataError, match=r"different checkpoint.*checkpoint_digest.*overwrite=true"):
        run_predict(other_path, h5_file, output)
    run_predict(other_path, h5_file, output, "overwrite=true")


def _no_images_h5(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["ans"] = np.zeros(3, dtype=np.uint8)
    return path


@pytest.mark.parametrize(
    ("source", "overrides", "message"),
    [
        ("missing", [], "input not found"),
        ("empty", [], "no images in this folder"),
        ("noimages.h5", [], "no 'images' dataset"),
        ("h5", ["checkpoint=nothing/best.pt"], "nothing/best.pt: checkpoint not found"),
        (
            "h5",
            ["checkpoint=runs:/0123456789abcdef/checkpoints/best.pt"],
            "runs:/0123456789abcdef.*cannot fetch",
        ),
        ("h5", ["output=/proc/labels.parquet"], "cannot write the output here"),
        ("h5", ["shard=3", "num_shards=3"], r"shard=3 must be in 0..2"),
        ("h5", ["num_shards=2", "format=csv"], "sharded runs write Parquet"),
    ],
)
def test_bad_input_is_one_sentence(smoke_model, h5_file, tmp_path, store, source, overrides, message):
    (tmp_path / "empty").mkdir()
    paths = {"h5": h5_file, "noimages.h5": _no_images_h5(tmp_path / "noimages.h5")}
    cfg = [f"tracking.uri={store['uri']}", *overrides]
    with pytest.raises(AstroError, match=message):
        run_predict(
            smoke_model["checkpoint"], paths.get(source, tmp_path / source), tmp_path / "o.parquet", *cfg
        )


@pytest.mark.slow
def test_cli_error_is_one_line(tmp_path):
    result = run_script(
        "predict.py",
        f"input={tmp_path / 'nowhere'}",
        f"output={tmp_path / 'o.parquet'}",
        "checkpoint=none.pt",
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "error: none.pt: checkpoint not found"
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_shards_over_joblib_merge_to_the_whole(smoke_model, h5_file, tmp_path):
    output = tmp_path / "labels.parquet"
    result = run_script(
        "predict.py",
        "-m",
        "shard=range(0,2)",
        "num_shards=2",
        "hydra/launcher=local_joblib",
        f"checkpoint={smoke_model['checkpoint']}",
        f"input={h5_file}",
        f"output={output}",
        "progress=false",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
        "chunk_size=64",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shards = sorted(tmp_path.glob("labels.shard-*-of-002.parquet"))
    assert [pq.read_metadata(s).num_rows for s in shards] == [150, 150]
    merged = pq.read_table(merge_shards(output))
    whole = pq.read_table(run_predict(smoke_model["checkpoint"], h5_file, tmp_path / "whole.parquet"))
    assert merged["index"].to_pylist() == list(range(300))
    np.testing.assert_allclose(merged["confidence"].to_numpy(), whole["confidence"].to_numpy(), atol=1e-6)
    assert pq.read_metadata(output).num_rows == 300
    merge_shards(output, tmp_path / "labels.csv")
    assert pacsv.read_csv(tmp_path / "labels.csv").num_rows == 300
    shards[1].unlink()
    with pytest.raises(DataError, match="shard 1 of 2 is missing"):
        merge_shards(output)


def test_field_keeps_the_centre_of_files_and_hdf5_cutouts_alike(smoke_model, h5_file, tmp_path):
    """field=0.5 labels each image as if it had been cut to its central half first (wider framing)."""
    with h5py.File(h5_file) as f:
        images = f["images"][:6]
    side = images.shape[1]
    centre = images[:, side // 4 : side // 4 + side // 2, side // 4 : side // 4 + side // 2]
    (tmp_path / "whole").mkdir()
    (tmp_path / "cut").mkdir()
    for i, (image, cut) in enumerate(zip(images, centre, strict=True)):
        Image.fromarray(image).save(tmp_path / "whole" / f"g{i}.png")
        Image.fromarray(cut).save(tmp_path / "cut" / f"g{i}.png")
    with h5py.File(tmp_path / "whole.h5", "w") as f:
        f["images"] = images
    ck = smoke_model["checkpoint"]
    names = load_checkpoint(ck).card.class_names
    cut = probabilities(pq.read_table(run_predict(ck, tmp_path / "cut", tmp_path / "c.parquet")), names)
    for source in (tmp_path / "whole", tmp_path / "whole.h5"):
        out = run_predict(ck, source, tmp_path / f"{source.name}.parquet", "field=0.5")
        np.testing.assert_allclose(probabilities(pq.read_table(out), names), cut, atol=2e-5)
    whole = run_predict(ck, tmp_path / "whole", tmp_path / "w.parquet")
    assert not np.allclose(probabilities(pq.read_table(whole), names), cut, atol=1e-3)
    with pytest.raises(DataError, match=r"field: 1\.0 vs 0\.5"):  # a resumed output keeps its framing
        run_predict(ck, tmp_path / "whole", whole, "field=0.5")
    with pytest.raises(AstroError, match=r"field=0 must be in \(0, 1\]"):
        run_predict(ck, tmp_path / "whole", tmp_path / "z.parquet", "field=0")
