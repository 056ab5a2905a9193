"""Benchmarks that run their variants side by side in one process, so ratios hold on a noisy machine.

    python -m astro bench train       # images/s: naive PNG+PIL+DataLoader vs this framework vs pure compute
    python -m astro bench inference   # single-upload latency p50/p95, with and without 8-view TTA
    python -m astro bench epoch       # epoch wall time and peak RSS on a Galaxy10-sized synthetic file
    python -m astro bench predict     # batch prediction end to end (JPEG folder, HDF5) vs pure forward; RSS
    python -m astro bench synthetic   # generation time of the synthetic set (3,000 images, budget 60 s)
    python -m astro bench recipe      # a whole recipe (Run 2) via train.py: wall, epoch, img/s, GPU memory
    python -m astro bench step        # where an epoch's time goes: data path, step variants, validation
    python -m astro bench sweeps      # Optuna studies: pruning none vs median; batch vs async workers

Each prints a table and writes JSON under outputs/bench/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from astro.bench.machine import save_result
from astro.paths import PROJECT_ROOT


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m astro bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="name", required=True)
    train = sub.add_parser("train", help="training throughput: naive vs framework vs pure compute")
    train.add_argument("--images", type=int, default=1500)
    train.add_argument("--image-size", type=int, default=128)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--steps", type=int, default=12)
    train.add_argument("--rounds", type=int, default=2)
    train.add_argument("--workers", type=int, default=2, help="DataLoader workers for the naive variant")
    infer = sub.add_parser("inference", help="single-image latency with and without TTA")
    infer.add_argument("--checkpoint", default=None)
    infer.add_argument("--image-size", type=int, default=64)
    infer.add_argument("--repeats", type=int, default=200)
    epoch = sub.add_parser("epoch", help="epoch wall time and peak RSS at Galaxy10 size")
    epoch.add_argument("--images", type=int, default=17_736)
    epoch.add_argument("--image-size", type=int, default=64)
    epoch.add_argument("--batch-size", type=int, default=64)
    predict = sub.add_parser("predict", help="batch prediction end to end vs pure forward, and peak RSS")
    predict.add_argument("--rows", type=int, default=2048, help="images per throughput measurement")
    predict.add_argument("--sizes", type=int, nargs=2, default=(1000, 20000), help="catalogue sizes for RSS")
    predict.add_argument("--image-sizes", type=int, nargs="+", default=[64, 128])
    predict.add_argument("--batch-size", type=int, default=256)
    synthetic = sub.add_parser("synthetic", help="generation time of the synthetic set")
    synthetic.add_argument("--images", type=int, default=3000)
    synthetic.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    recipe = sub.add_parser("recipe", help="a whole recipe through train.py, compile off and on")
    recipe.add_argument("--experiment", default="run2")
    recipe.add_argument("--images", type=int, default=17_736)
    recipe.add_argument("--epochs", type=int, default=None, help="default: the experiment's")
    recipe.add_argument("--compile", choices=["off", "on", "both"], default="both")
    recipe.add_argument("--override", nargs="*", default=[], help="more train.py overrides")
    step = sub.add_parser("step", help="where a training epoch's time goes, part by part")
    step.add_argument("--images", type=int, default=3000)
    step.add_argument("--image-size", type=int, default=128)
    step.add_argument("--batch-size", type=int, default=64)
    step.add_argument("--steps", type=int, default=100)
    step.add_argument("--compile", action="store_true", help="also a compiled-model step (slow to build)")
    sweeps = sub.add_parser("sweeps", help="Optuna studies: pruning none vs median, batch vs async")
    sweeps.add_argument("question", choices=["pruning", "modes"])
    sweeps.add_argument("--work", type=Path, default=PROJECT_ROOT / "outputs" / "bench" / "sweeps")
    sweeps.add_argument("--n-trials", type=int, default=16)
    sweeps.add_argument("--epochs", type=int, nargs="+", default=[4, 8, 12], help="the trial lengths")
    sweeps.add_argument("--data", nargs="*", default=["data=gz1_sdss", "image_size=32"])
    sweeps.add_argument(
        "--pruners", nargs="+", default=["none", "median"], help="pruning arms, baseline first"
    )
    args = parser.parse_args(argv)
    if args.name == "sweeps":
        from astro.bench import sweep_modes

        args.work.mkdir(parents=True, exist_ok=True)
        if args.question == "pruning":
            result = sweep_modes.bench_pruning(args.work, args.n_trials, args.epochs, args.data, args.pruners)
        else:
            result = sweep_modes.bench_modes(args.work, args.n_trials, args.epochs, args.data)
        args.name = f"sweeps_{args.question}"
    elif args.name == "train":
        from astro.bench.train_speed import bench_train

        result = bench_train(
            args.images, args.image_size, args.batch_size, args.steps, args.rounds, args.workers
        )
    elif args.name == "inference":
        from astro.bench.inference_latency import bench_inference

        result = bench_inference(args.checkpoint, args.image_size, args.repeats)
    elif args.name == "synthetic":
        from astro.bench.synthetic_speed import bench_synthetic

        result = bench_synthetic(args.images, args.workers)
    elif args.name == "recipe":
        from astro.bench.recipe_time import bench_recipe

        modes = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
        result = bench_recipe(args.experiment, args.images, args.epochs, modes, args.override)
    elif args.name == "step":
        from astro.bench.step_time import bench_step

        result = bench_step(args.images, args.image_size, args.batch_size, args.steps, args.compile)
    elif args.name == "epoch":
        from astro.bench.epoch_time import bench_epoch

        result = bench_epoch(args.images, args.image_size, args.batch_size)
    else:
        from astro.bench.predict_speed import bench_predict

        result = bench_predict(args.rows, tuple(args.sizes), args.image_sizes, args.batch_size)
    save_result(result, args.name)


if __name__ == "__main__":
    main()
