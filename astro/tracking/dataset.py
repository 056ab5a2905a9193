"""The training data as an MLflow dataset input, so the run page and the runs table's Dataset column name it.

A dataset is (name, digest, source): the data config's name, a short hash of the source's fingerprint (for
an HDF5 file its path, size and mtime; for a folder every file's name, size and mtime), and the file or
folder path. Same name, new digest: the data changed.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path

from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

DIGEST_CHARS = 12  # MLflow stores up to 36; its own digests are 8


def source_digest(fingerprint: str) -> str:
    """A short stable hash of an ImageSource fingerprint (the cache key's identity of the data)."""
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:DIGEST_CHARS]


def absolute(source: str) -> str:
    """A path as an absolute one, so a run (or a journal replayed elsewhere) names the same data."""
    return source if "://" in source else str(Path(source).expanduser().resolve())


def dataset_input(
    name: str, source: str, digest: str, profile: Mapping[str, object], context: str = "training"
) -> DatasetInput:
    """The MLflow entity for `client.log_inputs`: a local file or folder (or a URL) as the source."""
    with warnings.catch_warnings():  # MLflow 3.16 registers the local source twice and warns about it
        warnings.simplefilter("ignore", UserWarning)
        resolved = resolve_dataset_source(absolute(source))
    dataset = Dataset(
        name=name,
        digest=digest,
        source_type=resolved._get_source_type(),
        source=resolved.to_json(),
        profile=json.dumps(dict(profile), default=str),
    )
    return DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])
