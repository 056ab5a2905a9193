"""The realism report's figures: real (black) beside synthetic (orange), one PNG per statistic."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from astro.data.galaxy10 import CLASS_NAMES
from astro.data.realism.cutouts import Cutouts
from astro.data.realism.statistics import PROFILE_BINS, DomainStats

COLOURS = ("black", "tab:orange")
CHANNELS = (("R", "tab:red"), ("G", "tab:green"), ("B", "tab:blue"))


def pixel_histograms(stats: tuple[DomainStats, DomainStats], names: tuple[str, str], path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, key, title in zip(
        axes, ("sky_pixels", "galaxy_pixels"), ("sky pixels", "galaxy pixels"), strict=True
    ):
        for s, style, name in zip(stats, ("-", "--"), names, strict=True):
            hist = getattr(s, key)
            for (channel, colour), h in zip(CHANNELS, hist, strict=True):
                ax.plot(h / max(h.sum(), 1), style, color=colour, label=f"{name} {channel}", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("pixel value")
        ax.set_title(f"{title} (solid real, dashed synthetic)")
    axes[0].set_xlim(0, 120)
    return _save(fig, path)


def scatter_pairs(stats: tuple[DomainStats, DomainStats], names: tuple[str, str], path: Path) -> Path:
    """Colours of galaxy cores, outskirts and background sources (R/G against B/G)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    panels = (("core_colour", "galaxy cores (r < 4 px)"), ("outer_colour", "outskirts (1-2 r_half)"))
    for ax, (key, title) in zip(axes, (*panels, ("source_colour", "background sources")), strict=True):
        for s, colour, name in zip(stats, COLOURS, names, strict=True):
            values = getattr(s, key)
            ax.scatter(values[:, 1], values[:, 0], s=6, alpha=0.5, color=colour, label=name)
        ax.set_xlim(0.2, 1.6)
        ax.set_ylim(0.4, 2.2)
        ax.set_xlabel("B/G")
        ax.set_ylabel("R/G")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def histograms(stats: tuple[DomainStats, DomainStats], names: tuple[str, str], path: Path) -> Path:
    """Sizes, brightness, sky, noise and source density side by side."""
    panels = (
        ("half_light", "half-light radius (px)", lambda s: s.half_light),
        ("peak", "central brightness (0-255)", lambda s: s.peak),
        ("sky", "sky level (grey, 0-255)", lambda s: s.sky.mean(1)),
        ("noise", "sky noise (grey, 0-255)", lambda s: s.noise.mean(1)),
        ("sources", "background sources per 100x100 px", lambda s: s.sources),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 3.2))
    for ax, (_, title, get) in zip(axes, panels, strict=True):
        values = [get(s) for s in stats]
        bins = np.histogram_bin_edges(np.concatenate(values), 20)
        for v, colour, name in zip(values, COLOURS, names, strict=True):
            ax.hist(v, bins, density=True, histtype="step", color=colour, label=name, lw=1.5)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def noise_power(stats: tuple[DomainStats, DomainStats], names: tuple[str, str], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for s, colour, name in zip(stats, COLOURS, names, strict=True):
        power = s.power.mean(0)
        ax.plot(np.arange(1, len(power) + 1) / 32, power, color=colour, label=name)
    ax.set_xlabel("spatial frequency (cycles / px)")
    ax.set_ylabel("normalised power")
    ax.set_title("sky noise power spectrum (flat = white)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def profiles(stats: tuple[DomainStats, DomainStats], sides: tuple[Cutouts, Cutouts], path: Path) -> Path:
    """Mean radial profile per class, normalised to the centre."""
    fig, axes = plt.subplots(2, 5, figsize=(15, 5.5), sharex=True, sharey=True)
    radius = (PROFILE_BINS[1:] + PROFILE_BINS[:-1]) / 2
    for k, ax in enumerate(axes.ravel()):
        for s, side, colour in zip(stats, sides, COLOURS, strict=True):
            members = side.labels == k
            if members.any():
                ax.plot(radius, np.median(s.profile[members], 0), color=colour, label=side.name)
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 1.5)
        ax.set_title(CLASS_NAMES[k], fontsize=8)
    axes[1, 0].set_xlabel("radius (px)")
    axes[0, 0].legend(fontsize=6)
    return _save(fig, path)


def examples(sides: tuple[Cutouts, Cutouts], path: Path, per_side: int = 3, seed: int = 0) -> Path:
    """Per class: `per_side` real cutouts, then `per_side` synthetic ones."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(10, 2 * per_side, figsize=(1.3 * 2 * per_side + 1.8, 13), squeeze=False)
    for k, row in enumerate(axes):
        picks = []
        for side in sides:
            members = np.flatnonzero(side.labels == k)
            chosen = rng.choice(members, min(per_side, len(members)), replace=False) if len(members) else []
            picks += [side.images[i] for i in chosen] + [None] * (per_side - len(chosen))
        for ax, image in zip(row, picks, strict=True):
            ax.set_xticks([])
            ax.set_yticks([])
            if image is not None:
                ax.imshow(image)
        row[0].set_ylabel(CLASS_NAMES[k], rotation=0, ha="right", va="center", fontsize=8)
    axes[0, 0].set_title("real", fontsize=8)
    axes[0, per_side].set_title("synthetic", fontsize=8)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
