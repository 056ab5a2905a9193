"""Download a published data set, resumably and checked, then prepare its training cache.

`python -m astro.data.download galaxy10 [--dest DIR] [--url URL] [--no-prepare] [OVERRIDES ...]`

The transfer (astro.data.transfer) resumes after an interruption and installs the file under its final
name only once its sha256 matches the published one; then the prepare app builds the cache train.py reads.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from astro.cli import user_errors_as_one_line
from astro.data.galaxy10 import PUBLISHED_SHA256
from astro.data.transfer import download
from astro.paths import PROJECT_ROOT

log = logging.getLogger(__name__)
DEFAULT_DEST = PROJECT_ROOT / "data"  # conf/paths/default.yaml: data_dir = ${paths.root_dir}/data


@dataclass(frozen=True)
class Remote:
    """A published file: where it lives, what it hashes to, and the conf/data option that reads it."""

    filename: str
    url: str
    sha256: str
    data: str


# The Zenodo record astroNN's loader (astroNN.datasets.galaxy10) downloads from; 2.54 GB.
REMOTES = {
    "galaxy10": Remote(
        "Galaxy10_DECals.h5",
        "https://zenodo.org/records/10845026/files/Galaxy10_DECals.h5",
        PUBLISHED_SHA256,
        "galaxy10",
    )
}


def prepare(remote: Remote, path: Path, overrides: list[str]) -> int:
    """Build the training cache with the prepare app, in its own process (it is a Hydra app)."""
    quoted = "'" + str(path).replace("'", "\\'") + "'"
    command = [
        sys.executable,
        "-m",
        "astro.data.prepare",
        f"data={remote.data}",
        f"data.source.path={quoted}",
    ]
    log.info("Preparing the cache: %s", " ".join([*command[1:], *overrides]))
    return subprocess.run([*command, *overrides], cwd=PROJECT_ROOT).returncode


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m astro.data.download", description=__doc__.splitlines()[0]
    )
    parser.add_argument("dataset", choices=sorted(REMOTES))
    parser.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help="folder (default: the project's data/)"
    )
    parser.add_argument("--url", help="another address for the same file (a mirror)")
    parser.add_argument("--sha256", help="expected digest (default: the published one)")
    parser.add_argument("--retries", type=int, default=5, help="tries after a lost connection (default: 5)")
    parser.add_argument("--no-prepare", action="store_true", help="only download and verify")
    parser.add_argument("overrides", nargs="*", help="overrides for the prepare step, e.g. image_size=128")
    return parser.parse_intermixed_args(argv)


@user_errors_as_one_line
def _run(args: argparse.Namespace) -> None:
    remote = REMOTES[args.dataset]
    target = args.dest.expanduser().resolve() / remote.filename
    download(args.url or remote.url, target, args.sha256 or remote.sha256, retries=args.retries)
    if not args.no_prepare and (code := prepare(remote, target, args.overrides)):
        sys.exit(code)
    path = "" if target == DEFAULT_DEST / remote.filename else f" data.source.path={target}"
    log.info("Ready: python train.py data=%s%s", remote.data, path)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        _run(args)
    except KeyboardInterrupt:
        part = args.dest / f"{REMOTES[args.dataset].filename}.part"
        print(
            f"interrupted: what arrived is kept in {part}; run the same command again to resume",
            file=sys.stderr,
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
