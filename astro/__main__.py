"""astro's helper commands, one surface: python -m astro <command> [--help].

train.py and evaluate.py stay at the top level (Hydra apps); these are the commands around them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# name -> (module whose `main(argv)` runs it, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": (
        "astro.data.prepare",
        "check a data source, build its cache, write the data report (Hydra overrides: data=gz1_sdss)",
    ),
    "compare": (
        "astro.comparison.report",
        "the comparison report of a sweep's runs from MLflow (--sweep NAME | --latest | --runs ID ...)",
    ),
    "importances": (
        "astro.sweeps.importances",
        "an Optuna study's parameter importances, printed (--study NAME --storage URI)",
    ),
    "dashboard": (
        "astro.sweeps.dashboard",
        "optuna-dashboard on a study, served on loopback (--storage URI [--study NAME]; next stack)",
    ),
    "sync": ("astro.tracking.sync", "replay a run folder's offline MLflow journal into a store (RUN_DIR)"),
    "bench": (
        "astro.bench",
        "benchmarks run side by side: train | inference | epoch | predict | synthetic | recipe",
    ),
    "download": (
        "astro.data.download",
        "download Galaxy10_DECals.h5 (resumable, checksum-checked), then prepare it",
    ),
    "merge-shards": (
        "astro.prediction.shards",
        "merge predict.py's shards into one file, checking each input once (OUTPUT)",
    ),
    "register": (
        "astro.comparison.registry",
        "register a sweep's best run (on val) as models:/galaxy-morphology and set @champion (--sweep NAME)",
    ),
    "realism": (
        "astro.data.realism.report",
        "the realism report: synthetic cutouts vs real ones, statistics and a domain-classifier AUC",
    ),
    "coarse-eval": (
        "astro.evaluation.coarse",
        "sim-to-real at coarse morphology: predict.py's output on GZ1 SDSS images vs their labels",
    ),
    "domain-gap": (
        "astro.adaptation.domain_gap",
        "a domain classifier on a model's features: how far apart two surveys are (CKPT --source --target)",
    ),
    "ui": (
        "astro.__main__",
        "mlflow ui on the project's store, opened on the newest experiment's runs (--no-browser; --port ...)",
    ),
}


def ui(argv: Sequence[str]) -> None:
    """`mlflow ui` with the same default store as train.py, opened on the newest experiment's runs."""
    from astro.paths import default_tracking_uri
    from astro.tracking.ui import main as ui_main

    sys.exit(ui_main(argv, default_tracking_uri()))


def _runner(name: str) -> Callable[[list[str]], object]:
    if name == "ui":
        return ui
    module = importlib.import_module(COMMANDS[name][0])
    if name == "prepare":  # a Hydra app: it reads its overrides from sys.argv

        def run(argv: list[str]) -> object:
            sys.argv = [f"{sys.argv[0]} prepare", *argv]
            return module.main()

        return run
    return module.main


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m astro",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(f"  {name:<12} {help}" for name, (_, help) in COMMANDS.items()),
    )
    parser.add_argument("command", choices=COMMANDS, metavar="command", help="one of: " + ", ".join(COMMANDS))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's own arguments (see its --help)")
    args = parser.parse_args(argv)
    _runner(args.command)(args.args)


if __name__ == "__main__":
    main()
