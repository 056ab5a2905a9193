"""Coarse sim-to-real check: predict.py's Galaxy10 probabilities summed into GZ1's classes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from astro.data.galaxy10 import CLASS_NAMES
from astro.evaluation.coarse import COARSE, coarse_data, evaluate
from tests.conftest import ROOT


def predictions(path: Path, rows: list[tuple[str, dict[str, float], str | None]]) -> Path:
    """predict.py's columns: filename, prob_<class> for Galaxy10's ten classes, error."""
    columns: dict[str, list] = {"filename": [name for name, _, _ in rows]}
    for name in CLASS_NAMES:
        columns[f"prob_{name}"] = [probs.get(name, 0.0) for _, probs, _ in rows]
    columns["error"] = [error for _, _, error in rows]
    pq.write_table(pa.table(columns), path)
    return path


def labels(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "objid", "label", "class_name"])
        writer.writerows([name, i, 0, label] for i, (name, label) in enumerate(rows))
    return path


def test_probabilities_are_summed_per_coarse_class_before_the_argmax(tmp_path):
    spread = {"round_smooth": 0.3, "in_between_round_smooth": 0.3, "unbarred_loose_spiral": 0.4}
    rows = [
        ("images/a.jpeg", spread, None),  # top class a spiral, but smooth holds 0.6
        ("images/b.jpeg", {"barred_spiral": 0.9, "merging": 0.1}, None),
        ("images/c.jpeg", {"edge_on_with_bulge": 0.6, "cigar_shaped_smooth": 0.4}, None),
        ("images/d.jpeg", {"merging": 0.5, "disturbed": 0.5}, None),
        ("images/e.jpeg", {"round_smooth": 1.0}, None),  # dont_know: no coarse class
        ("images/f.jpeg", {}, "not an image"),
        ("images/g.jpeg", {"round_smooth": 1.0}, None),  # not in the labels
    ]
    truth = [
        ("a.jpeg", "elliptical"),
        ("b.jpeg", "spiral_clockwise"),
        ("c.jpeg", "edge_on"),
        ("d.jpeg", "merger"),
        ("e.jpeg", "dont_know"),
        ("f.jpeg", "spiral_anticlockwise"),
    ]
    data = coarse_data(predictions(tmp_path / "p.parquet", rows), labels(tmp_path / "l.csv", truth))
    assert data.labels.tolist() == [0, 1, 2, 3] and (data.unlabelled, data.unreadable) == (2, 1)
    assert np.allclose(data.probs[0], [0.6, 0.4, 0.0, 0.0])
    result = evaluate(data, samples=50)
    assert result["macro_f1"] == 1.0 and result["accuracy"] == 1.0
    assert result["confusion"]["counts"] == np.eye(4, dtype=int).tolist()
    assert list(result["per_class"]) == list(COARSE)


def test_a_model_that_calls_everything_smooth_is_scored_as_such(tmp_path):
    names = [f"{i}.jpeg" for i in range(40)]
    truth = [(n, "elliptical" if i < 30 else "edge_on") for i, n in enumerate(names)]
    rows = [(n, {"round_smooth": 0.7, "edge_on_without_bulge": 0.3}, None) for n in names]
    data = coarse_data(predictions(tmp_path / "p.parquet", rows), labels(tmp_path / "l.csv", truth))
    result = evaluate(data, samples=50)
    assert result["accuracy"] == 0.75 and result["per_class"]["smooth"]["recall"] == 1.0
    assert result["per_class"]["edge_on"]["f1"] == 0.0
    assert result["macro_f1"] == pytest.approx((2 * 30 / (30 + 40)) / 4)


def cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "astro", "coarse-eval", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_command_prints_the_table_and_writes_json(tmp_path):
    rows = [(f"{i}.jpeg", {"round_smooth": 1.0}, None) for i in range(4)]
    truth = [(f"{i}.jpeg", "elliptical") for i in range(4)]
    out = tmp_path / "result.json"
    done = cli(
        str(predictions(tmp_path / "p.parquet", rows)), "--labels", str(labels(tmp_path / "l.csv", truth)),
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "4 real galaxies" in done.stdout and json.loads(out.read_text())["images"] == 4


def test_bad_input_is_one_line(tmp_path):
    good = labels(tmp_path / "l.csv", [("a.jpeg", "elliptical")])
    pq.write_table(pa.table({"filename": ["a.jpeg"], "prob_round_smooth": [1.0]}), tmp_path / "x.parquet")
    (tmp_path / "bad.csv").write_text("name,label\na.jpeg,0\n")
    cases = {
        "missing prob_": [str(tmp_path / "x.parquet"), "--labels", str(good)],
        "no such file": [str(tmp_path / "absent.parquet"), "--labels", str(good)],
        "needs the columns filename and class_name": [
            str(predictions(tmp_path / "p.parquet", [("a.jpeg", {}, None)])),
            "--labels",
            str(tmp_path / "bad.csv"),
        ],
    }
    for expected, args in cases.items():
        done = cli(*args)
        assert done.returncode != 0 and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
