"""Benchmarks that run their variants side by side in one process, so ratios hold on a noisy machine.

    python -m astro bench train       # images/s: naive PNG+PIL+DataLoader vs this framework vs pure compute
    python -m astro bench inference   # single-upload latency p50/p95, with and without 8-view TTA
    python -m astro bench epoch       # epoch wall time and peak RSS on a Galaxy10-sized synthetic file

Each prints a table and writes JSON under outputs/bench/.
"""

from __future__ import annotations

import argparse

from astro.bench.machine import save_result


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
    args = parser.parse_args(argv)
    if args.name == "train":
        from astro.bench.train_speed import bench_train

        result = bench_train(
            args.images, args.image_size, args.batch_size, args.steps, args.rounds, args.workers
        )
    elif args.name == "inference":
        from astro.bench.inference_latency import bench_inference

        result = bench_inference(args.checkpoint, args.image_size, args.repeats)
    else:
        from astro.bench.epoch_time import bench_epoch

        result = bench_epoch(args.images, args.image_size, args.batch_size)
    save_result(result, args.name)


if __name__ == "__main__":
    main()
