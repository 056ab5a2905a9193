"""The output of batch prediction: its columns, what it belongs to, and how it is written resumably.

While a run goes, each finished chunk of rows is one Parquet file in `<output>.partial/`, written to a
temporary name and renamed, so a run killed at any moment leaves only complete chunks; a re-run reads
them back and continues after the last one. At the end the chunks become the output (one row group per
chunk, or CSV), again via a temporary file and a rename. Every chunk and the output carry the
`Identity` (checkpoint digest, input, shard, TTA) in their Parquet metadata: a resume, a re-run or a
merge with anything else is refused instead of mixing two models' labels.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from astro.errors import DataError

METADATA_KEY = b"astro.prediction"


@dataclass(frozen=True)
class Identity:
    """What an output is the labelling of; two outputs may be resumed or merged only if these agree."""

    checkpoint_digest: str
    checkpoint: str
    class_names: tuple[str, ...]
    input: str
    input_fingerprint: str
    input_rows: int
    shard: int
    num_shards: int
    start: int
    stop: int
    tta: bool
    chunk_size: int
    field: float = 1.0  # outputs written before `field` existed used the whole image
    adapt: str = "none"  # test-time adaptation (bn: BatchNorm statistics re-estimated); older: none
    adapt_fingerprint: str = ""  # what it adapted to: the sample's source, size and seed

    def metadata(self) -> dict[bytes, bytes]:
        return {METADATA_KEY: json.dumps(asdict(self)).encode()}

    @classmethod
    def of(cls, schema: pa.Schema) -> Identity | None:
        raw = (schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            return None
        tree = json.loads(raw)
        return cls(**{**tree, "class_names": tuple(tree["class_names"])})

    def difference(
        self, other: Identity | None, ignore: tuple[str, ...] = ("checkpoint", "input")
    ) -> str | None:
        """The first field that differs, as 'name: theirs vs ours'; where the files came from and
        what the input is called do not count, only what they are."""
        if other is None:
            return "it has no astro prediction metadata"
        for f in fields(self):
            if f.name not in ignore and getattr(self, f.name) != getattr(other, f.name):
                return f"{f.name}: {getattr(other, f.name)} vs {getattr(self, f.name)}"
        return None


def probability_column(class_name: str) -> str:
    return f"prob_{class_name}"


def build_table(
    columns: dict[str, list], probs: np.ndarray, errors: list[str | None], identity: Identity
) -> pa.Table:
    """Rows: the id and carried columns, P(class) for every class, the top class and its calibrated
    confidence, and `error` (null, or why the image could not be classified: its other cells are null)."""
    bad = np.array([e is not None for e in errors], dtype=bool)
    data: dict[str, pa.Array] = {name: pa.array(values) for name, values in columns.items()}
    for k, name in enumerate(identity.class_names):
        data[probability_column(name)] = pa.array(probs[:, k].astype(np.float32), mask=bad)
    top = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    names = np.asarray(identity.class_names, dtype=object)[top]
    data["top_class"] = pa.array(names.tolist(), type=pa.string(), mask=bad)
    data["confidence"] = pa.array(probs.max(axis=1, initial=0).astype(np.float32), mask=bad)
    data["error"] = pa.array(errors, type=pa.string())
    return pa.table(data).replace_schema_metadata(identity.metadata())


class ChunkStore:
    """The output file and its `.partial/` folder of finished chunks."""

    def __init__(self, output: Path, fmt: str) -> None:
        self.output, self.format = output, fmt
        self.parts = output.with_name(output.name + ".partial")

    def prepare(self, identity: Identity, overwrite: bool) -> int | None:
        """Chunks already done (0 for a fresh run), or None when the output is complete for this
        identity. Refuses an output or chunks from another checkpoint or other settings."""
        if self.output.is_dir():
            raise DataError(f"{self.output}: output is a folder; give a file name, e.g. labels.parquet")
        if overwrite:
            self.output.unlink(missing_ok=True)
            shutil.rmtree(self.parts, ignore_errors=True)
        if self.output.exists():
            self._refuse_unless_same(self.output, identity)
            return None
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"{self.output}: cannot write the output here ({exc.strerror})") from None
        done = self.done()
        if done:
            self._refuse_unless_same(done[0], identity)
        return len(done)

    def done(self) -> list[Path]:
        """Finished chunks 0..k-1 (a gap ends the run of usable ones)."""
        found, k = [], 0
        while (self.parts / chunk_name(k)).is_file():
            found.append(self.parts / chunk_name(k))
            k += 1
        return found

    def _refuse_unless_same(self, path: Path, identity: Identity) -> None:
        if self.format == "csv" and path == self.output:
            raise DataError(f"{self.output}: output exists; pass overwrite=true to replace it")
        try:
            theirs = Identity.of(pq.read_schema(path))
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(
                f"{path}: exists but is not a readable Parquet file ({exc}); "
                "pass overwrite=true to replace it"
            ) from None
        why = identity.difference(theirs)
        if why:
            raise DataError(
                f"{path}: was written by a different checkpoint or with other settings ({why}); "
                "pass overwrite=true to replace it, or choose another output"
            )

    def write_chunk(self, k: int, table: pa.Table) -> None:
        target = self.parts / chunk_name(k)
        tmp = target.with_name(f".{target.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, target)

    def bad_rows(self) -> int:
        """Unreadable rows in the finished chunks (for max_bad_fraction across a resume)."""
        total = 0
        for part in self.done():
            errors = pq.read_table(part, columns=["error"])["error"]
            total += len(errors) - errors.null_count
        return total

    def finish(self) -> Path:
        """Join the chunks into the output (one row group each) atomically, then drop `.partial/`."""
        write_output((pq.read_table(p) for p in self.done()), self.output, self.format)
        shutil.rmtree(self.parts)
        return self.output


def write_output(tables, output: Path, fmt: str) -> None:
    """Write tables (an iterable, read lazily) as one file: a row group each, or CSV rows."""
    tmp = output.with_name(f".{output.name}.tmp")
    writer = None
    try:
        for table in tables:
            if writer is None:
                writer = (
                    pq.ParquetWriter(tmp, table.schema)
                    if fmt == "parquet"
                    else pacsv.CSVWriter(tmp, table.schema)
                )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, output)


def chunk_name(k: int) -> str:
    return f"chunk-{k:06d}.parquet"
