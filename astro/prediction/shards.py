"""Sharding a catalogue over machines, and merging the shards: `python -m astro merge-shards OUTPUT`.

Shard i of N is the contiguous block of rows [i*n//N, (i+1)*n//N) of the catalogue's fixed order
(sorted file names, manifest order, HDF5 index), so every machine computes the same slices without
talking to the others. Shard i writes `<stem>.shard-<i>-of-<N><suffix>` beside the output; the merge
checks that all N are there, finished, from one checkpoint and input, and that together they hold every
input row exactly once, then writes the output.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq

from astro.cli import user_errors_as_one_line
from astro.errors import ConfigError, DataError
from astro.prediction.table import Identity, write_output

log = logging.getLogger(__name__)


def shard_bounds(rows: int, shard: int, num_shards: int) -> tuple[int, int]:
    if num_shards < 1:
        raise ConfigError(f"num_shards={num_shards} must be at least 1")
    if not 0 <= shard < num_shards:
        raise ConfigError(f"shard={shard} must be in 0..{num_shards - 1} (num_shards={num_shards})")
    return shard * rows // num_shards, (shard + 1) * rows // num_shards


def shard_output(output: Path, shard: int, num_shards: int) -> Path:
    """The file shard `shard` writes: the output itself when there is one shard."""
    if num_shards == 1:
        return output
    return output.with_name(f"{output.stem}.shard-{shard:03d}-of-{num_shards:03d}{output.suffix}")


def merge_shards(output: Path, merged: Path | None = None) -> Path:
    """Check the shards of `output` and write them as one file (`merged`, default `output`; a .csv
    name writes CSV). Returns the merged file."""
    found = sorted(output.parent.glob(f"{output.stem}.shard-*-of-*{output.suffix}"))
    if not found:
        raise DataError(f"{output}: no shards beside it (expected {shard_output(output, 0, 2).name} ...)")
    identities = [_identity(path) for path in found]
    first = identities[0]
    expected = {shard_output(output, i, first.num_shards) for i in range(first.num_shards)}
    for path in sorted(expected - set(found)):
        partial = path.with_name(path.name + ".partial")
        state = "unfinished (re-run it to resume)" if partial.exists() else "missing"
        raise DataError(f"{path}: shard {_shard_of(path)} of {first.num_shards} is {state}")
    for path, identity in zip(found, identities, strict=True):
        if path not in expected:
            raise DataError(
                f"{path}: belongs to a split into another number of shards than {first.num_shards}"
            )
        why = first.difference(identity, ignore=("checkpoint", "input", "shard", "start", "stop"))
        if why:
            raise DataError(
                f"{path}: not from the same checkpoint, input and settings as {found[0].name} ({why})"
            )
    _check_rows(found, identities, first)
    target = merged or output
    fmt = "csv" if target.suffix.lower() == ".csv" else "parquet"
    whole = replace(first, shard=0, num_shards=1, start=0, stop=first.input_rows)
    tables = (
        group.replace_schema_metadata(whole.metadata()) for path in found for group in _row_groups(path)
    )
    write_output(tables, target, fmt)
    log.info(
        "merged %d shards, %d rows, every input row exactly once -> %s", len(found), first.input_rows, target
    )
    return target


def _identity(path: Path) -> Identity:
    identity = Identity.of(pq.read_schema(path))
    if identity is None:
        raise DataError(f"{path}: not written by predict.py (no astro prediction metadata)")
    return identity


def _row_groups(path: Path):
    """A file's row groups one at a time: merging holds one chunk in memory, not the catalogue."""
    file = pq.ParquetFile(path)
    for group in range(file.num_row_groups):
        yield file.read_row_group(group)


def _shard_of(path: Path) -> int:
    return int(path.name.rsplit(".shard-", 1)[1].split("-of-")[0])


def _check_rows(found: list[Path], identities: list[Identity], first: Identity) -> None:
    """Each shard holds exactly its slice; together every input row once."""
    key = "index" if first.input_fingerprint.startswith("hdf5:") else "filename"
    seen: set = set()
    for path, identity in zip(found, identities, strict=True):
        ids = pq.read_table(path, columns=[key])[key].to_pylist()
        if len(ids) != identity.stop - identity.start:
            raise DataError(f"{path}: holds {len(ids)} rows, its slice has {identity.stop - identity.start}")
        seen.update(ids)
    if len(seen) != first.input_rows:
        raise DataError(
            f"{found[0].parent}: the shards hold {len(seen)} distinct inputs, the catalogue has "
            f"{first.input_rows} (some appear twice or are missing)"
        )


@user_errors_as_one_line
def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        prog="python -m astro merge-shards", description="merge predict.py shards into one checked file"
    )
    parser.add_argument("output", type=Path, help="the output= the shards were run with, e.g. labels.parquet")
    parser.add_argument("--to", type=Path, default=None, help="write here instead (a .csv name writes CSV)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    merged = merge_shards(args.output, args.to)
    print(merged)
    return merged
