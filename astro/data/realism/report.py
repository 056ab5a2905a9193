"""`python -m astro realism`: synthetic cutouts against a folder of real ones, as Markdown + PNGs + JSON.

python -m astro realism --synthetic FILE [--real DIR] [--include REGEX] [--count 300] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from astro.cli import user_errors_as_one_line
from astro.data.realism import figures
from astro.data.realism.cutouts import Cutouts, read_real, read_synthetic
from astro.data.realism.domain import domain_auc
from astro.data.realism.statistics import DomainStats, measure
from astro.paths import PROJECT_ROOT

DEFAULT_REAL = PROJECT_ROOT.parent / "shared" / "data" / "galaxy10_decals_samples"


def summary(stats: DomainStats) -> dict[str, float]:
    """Medians of the per-cutout statistics: the rows of the report's table."""
    med = lambda values: float(np.nanmedian(values)) if len(values) else float("nan")  # noqa: E731
    return {
        "sky level R": med(stats.sky[:, 0]),
        "sky level G": med(stats.sky[:, 1]),
        "sky level B": med(stats.sky[:, 2]),
        "sky noise (grey)": med(stats.noise.mean(1)),
        "half-light radius (px)": med(stats.half_light),
        "central brightness": med(stats.peak),
        "core R/G": med(stats.core_colour[:, 0]),
        "core B/G": med(stats.core_colour[:, 1]),
        "outskirts R/G": med(stats.outer_colour[:, 0]),
        "outskirts B/G": med(stats.outer_colour[:, 1]),
        "background sources / 100x100 px": med(stats.sources),
        "background source R/G": med(stats.source_colour[:, 0]),
        "background source B/G": med(stats.source_colour[:, 1]),
        "noise power, highest / lowest frequency": med(stats.power[:, -1] / stats.power[:, 0]),
    }


def write_realism(real: Cutouts, synthetic: Cutouts, out_dir: Path) -> Path:
    """Write realism.json, the figures and realism_report.md into out_dir; return the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = (measure(real), measure(synthetic))
    names = (real.name, synthetic.name)
    auc = domain_auc(real.images, synthetic.images)
    rows = {name: summary(s) for name, s in zip(names, stats, strict=True)}
    result = {"domain_auc": auc, "real_images": len(real.images), "synthetic_images": len(synthetic.images)}
    (out_dir / "realism.json").write_text(json.dumps(result | {"statistics": rows}, indent=2))
    figures.pixel_histograms(stats, names, out_dir / "pixel_histograms.png")
    figures.histograms(stats, names, out_dir / "distributions.png")
    figures.scatter_pairs(stats, names, out_dir / "colours.png")
    figures.noise_power(stats, names, out_dir / "noise_power.png")
    figures.profiles(stats, (real, synthetic), out_dir / "profiles.png")
    figures.examples((real, synthetic), out_dir / "examples.png")
    report = out_dir / "realism_report.md"
    report.write_text(_markdown(result, rows, names))
    return report


def _markdown(result: dict, rows: dict[str, dict[str, float]], names: tuple[str, str]) -> str:
    real, synthetic = (rows[n] for n in names)
    lines = [
        "# Realism report",
        "",
        f"- real: {names[0]}, {result['real_images']} cutouts",
        f"- synthetic: {names[1]}, {result['synthetic_images']} cutouts",
        f"- **domain classifier ROC-AUC: {result['domain_auc']:.3f}** (logistic regression on 32x32 RGB"
        " pixels, 5-fold cross-validation; 0.5 = indistinguishable, 1.0 = fully apart)",
        "",
        "Medians per cutout, measured the same way on both (0-255 levels of the 256 px cutouts):",
        "",
        "| statistic | real | synthetic |",
        "|---|---|---|",
        *(f"| {key} | {real[key]:.3g} | {synthetic[key]:.3g} |" for key in real),
        "",
        "## Pixels of sky and galaxy, per channel",
        "",
        "![pixel histograms](pixel_histograms.png)",
        "",
        "## Size, brightness, sky, noise, background sources",
        "",
        "![distributions](distributions.png)",
        "",
        "## Colours of cores, outskirts and background sources",
        "",
        "![colours](colours.png)",
        "",
        "## Noise power spectrum",
        "",
        "![noise power](noise_power.png)",
        "",
        "## Mean radial profile per class",
        "",
        "![profiles](profiles.png)",
        "",
        "## Real and synthetic examples per class",
        "",
        "![examples](examples.png)",
        "",
    ]
    return "\n".join(lines)


@user_errors_as_one_line
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m astro realism", description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=Path, required=True, help="a Galaxy10-schema HDF5 file")
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="a folder of real JPEG/PNG cutouts")
    parser.add_argument("--include", default=None, help="only real files whose name matches this regex")
    parser.add_argument("--count", type=int, default=300, help="synthetic cutouts drawn (default 300)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "outputs" / "realism")
    args = parser.parse_args(argv)
    real = read_real(args.real.expanduser().resolve(), args.include)
    synthetic = read_synthetic(args.synthetic.expanduser().resolve(), args.count)
    report = write_realism(real, synthetic, args.out)
    auc = json.loads((args.out / "realism.json").read_text())["domain_auc"]
    print(f"domain classifier ROC-AUC {auc:.3f}; report: {report}")


if __name__ == "__main__":
    main()
