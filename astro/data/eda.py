"""Exploratory report on a prepared data set: class table per split, class counts chart, a sample grid per
class and per-channel pixel statistics, as PNG + Markdown.

It reads the cache (the images exactly as training sees them) in chunks, so it costs one pass over a
file that is already small, whatever the size of the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from astro.data.datamodule import GalaxyDataModule
from astro.data.split import SPLITS

CHANNELS = ("R", "G", "B")


@dataclass
class PixelStats:
    """Per-channel histograms of uint8 values (3, 256) and per-class channel means (K, 3), in 0-255."""

    histogram: np.ndarray
    class_means: np.ndarray

    def channel_rows(self) -> list[dict[str, float | str]]:
        rows = []
        values = np.arange(256)
        for name, hist in zip(CHANNELS, self.histogram, strict=True):
            total = hist.sum()
            mean = float((values * hist).sum() / total)
            std = float(np.sqrt((((values - mean) ** 2) * hist).sum() / total))
            cumulative = np.cumsum(hist) / total
            p1, p50, p99 = (int(np.searchsorted(cumulative, q)) for q in (0.01, 0.5, 0.99))
            nonzero = np.flatnonzero(hist)
            rows.append(
                {"channel": name, "mean": mean, "std": std, "min": int(nonzero[0]), "p1": p1}
                | {"median": p50, "p99": p99, "max": int(nonzero[-1])}
            )
        return rows


def pixel_stats(images: np.ndarray, labels: np.ndarray, num_classes: int, chunk: int = 512) -> PixelStats:
    """One chunked pass over uint8 (N,3,S,S) images: exact histograms, and mean per class and channel."""
    histogram = np.zeros((3, 256), np.int64)
    sums = np.zeros((num_classes, 3))
    for start in range(0, len(images), chunk):
        block = np.asarray(images[start : start + chunk])
        for c in range(3):
            histogram[c] += np.bincount(block[:, c].ravel(), minlength=256)
        np.add.at(sums, labels[start : start + chunk], block.mean(axis=(2, 3)))
    counts = np.bincount(labels, minlength=num_classes).clip(min=1)
    return PixelStats(histogram, sums / counts[:, None])


def class_table_text(table: list[dict[str, int | str]]) -> str:
    """The per-split class table as aligned text, with totals, for the console and the log."""
    width = max(26, *(len(str(row["class"])) for row in table))
    lines = [f"  {'class':<{width}} " + " ".join(f"{s:>6}" for s in (*SPLITS, "total"))]
    for row in [*table, _totals(table)]:
        counts = [int(row[s]) for s in SPLITS]
        lines.append(f"  {row['class']:<{width}} " + " ".join(f"{c:>6}" for c in (*counts, sum(counts))))
    return "\n".join(lines)


def write_eda(data: GalaxyDataModule, out_dir: str | Path, per_class: int = 8, seed: int = 0) -> Path:
    """Write class_table.json, class_counts.png, samples.png, pixel_histograms.png, pixel_stats.json and
    data_report.md into out_dir; return the Markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = data.class_table()
    stats = pixel_stats(data.cache.images, data.cache.labels, data.num_classes)
    (out / "class_table.json").write_text(json.dumps(table, indent=2))
    summary = {"channels": stats.channel_rows(), "class_means": stats.class_means.round(3).tolist()}
    (out / "pixel_stats.json").write_text(json.dumps(summary, indent=2))
    class_counts_png(table, out / "class_counts.png")
    sample_grid_png(
        data.cache.images, data.cache.labels, data.class_names, out / "samples.png", per_class, seed
    )
    pixel_histograms_png(stats.histogram, out / "pixel_histograms.png")
    report = out / "data_report.md"
    report.write_text(_markdown(data, table, stats))
    return report


def class_counts_png(table: list[dict[str, int | str]], path: Path) -> Path:
    """Horizontal bars per class, stacked by split, labelled with the class total."""
    names = [str(row["class"]) for row in table]
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.38 * len(names)))
    left = np.zeros(len(names))
    for split in SPLITS:
        counts = np.array([int(row[split]) for row in table])
        ax.barh(names, counts, left=left, label=split)
        left += counts
    for y, total in enumerate(left):
        ax.text(total, y, f" {int(total)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("images")
    ax.set_xlim(0, left.max() * 1.15)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"class counts (max/min {left.max() / max(left.min(), 1):.1f})")
    return _save(fig, path)


def sample_grid_png(
    images: np.ndarray, labels: np.ndarray, names: tuple[str, ...], path: Path, per_class: int, seed: int
) -> Path:
    """One row per class of randomly drawn images, as cached (the resolution training sees)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(
        len(names), per_class, figsize=(1.1 * per_class + 1.6, 1.1 * len(names)), squeeze=False
    )
    for k, row in enumerate(axes):
        members = np.flatnonzero(labels == k)
        picks = np.sort(rng.choice(members, min(per_class, len(members)), replace=False))
        for ax, index in zip(row, [*picks, *[None] * per_class], strict=False):
            ax.set_xticks([])
            ax.set_yticks([])
            if index is not None:
                ax.imshow(np.asarray(images[index]).transpose(1, 2, 0))
        row[0].set_ylabel(names[k], rotation=0, ha="right", va="center", fontsize=8)
    return _save(fig, path)


def pixel_histograms_png(histogram: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for name, hist, colour in zip(CHANNELS, histogram, ("tab:red", "tab:green", "tab:blue"), strict=True):
        ax.plot(np.arange(256), hist / hist.sum(), color=colour, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("pixel value")
    ax.set_ylabel("fraction of pixels")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _totals(table: list[dict[str, int | str]]) -> dict[str, int | str]:
    return {"class": "total", **{s: sum(int(row[s]) for row in table) for s in SPLITS}}


def _markdown(data: GalaxyDataModule, table: list[dict[str, int | str]], stats: PixelStats) -> str:
    totals = [sum(int(row[s]) for s in SPLITS) for row in table]
    n = sum(totals)
    imbalance = max(totals) / max(min(totals), 1)
    split = data.split_cfg
    lines = [
        f"# Data report: {data.name}",
        "",
        f"- source: `{data.source.fingerprint()}`",
        f"- cache: `{data.cache.directory}` (uint8, {data.image_size}x{data.image_size})",
        f"- images: {n}, classes: {data.num_classes}, imbalance max/min: {imbalance:.1f}",
        f"- split: {split.train}/{split.val}/{split.test}, seed {split.seed}",
        f"- training normalisation (train split): mean {data.mean}, std {data.std}",
        "",
        "## Classes per split",
        "",
        "| class | " + " | ".join(SPLITS) + " | total | share |",
        "|---|" + "---|" * (len(SPLITS) + 2),
    ]
    for row, total in zip([*table, _totals(table)], [*totals, n], strict=True):
        counts = " | ".join(str(row[s]) for s in SPLITS)
        lines.append(f"| {row['class']} | {counts} | {total} | {total / n:.1%} |")
    lines += ["", "![class counts](class_counts.png)", "", "## Pixel statistics (cached images, 0-255)", ""]
    lines += ["| channel | mean | std | min | p1 | median | p99 | max |", "|---|---|---|---|---|---|---|---|"]
    for r in stats.channel_rows():
        lines.append(
            f"| {r['channel']} | {r['mean']:.1f} | {r['std']:.1f} | {r['min']} | {r['p1']} | {r['median']} "
            f"| {r['p99']} | {r['max']} |"
        )
    lines += ["", "Mean per class:", "", "| class | R | G | B |", "|---|---|---|---|"]
    for name, means in zip(data.class_names, stats.class_means, strict=True):
        lines.append(f"| {name} | " + " | ".join(f"{m:.1f}" for m in means) + " |")
    lines += ["", "![pixel histograms](pixel_histograms.png)", "", "## Samples per class", ""]
    lines += ["![samples](samples.png)", ""]
    return "\n".join(lines)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
