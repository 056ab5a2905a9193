"""Resuming a run: the training state kept in last.pt, and finding the run to continue.

last.pt is written at every epoch end and when a stop is requested mid-epoch. It keeps the epoch's
batch order and the RNG states after the last finished step, so a resumed run draws exactly what the
uninterrupted run would have drawn: on CPU the final metrics are equal.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from astro.errors import ConfigError
from astro.tracking.tags import CONFIG_HASH, OUTPUT_DIR

log = logging.getLogger(__name__)
# Keys that may differ between the interrupted and the resuming invocation.
VOLATILE_KEYS = ("resume", "progress", "paths.output_dir")
NEVER = (None, False, "", "never")


@dataclass
class EpochProgress:
    """How far an epoch got: a stopped epoch resumes at `steps` with the running loss sums."""

    steps: int = 0
    loss_sum: float = 0.0
    seen: int = 0
    stopped: bool = False

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / max(self.seen, 1)


@dataclass
class PartialEpoch:
    """An epoch stopped part-way: its batch plan and how far it got."""

    epoch: int
    plan: list[list[int]]
    progress: EpochProgress


@dataclass
class ResumeState:
    """Everything beyond the weights that a resumed run needs. `epoch` is the last finished epoch."""

    epoch: int
    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any]
    rng: dict[str, Any]
    history: list[dict[str, float]]
    top_k: list[tuple[float, int, str]]
    output_dir: str
    config_hash: str
    partial: PartialEpoch | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, tree: dict[str, Any]) -> ResumeState:
        """From to_dict's output, or from a format-1 last.pt, whose flat keys had the same names."""
        partial = tree.get("partial")
        if partial is not None:
            progress = partial["progress"]
            progress = progress if isinstance(progress, EpochProgress) else EpochProgress(**progress)
            partial = PartialEpoch(partial["epoch"], partial["plan"], progress)
        return cls(
            epoch=int(tree["epoch"]),
            optimizer_state=tree["optimizer_state"],
            scheduler_state=tree["scheduler_state"],
            rng=tree["rng"],
            history=list(tree["history"]),
            top_k=[tuple(entry) for entry in tree["top_k"]],
            output_dir=str(tree["output_dir"]),
            config_hash=str(tree["config_hash"]),
            partial=partial,
        )


def config_hash(cfg: DictConfig) -> str:
    """Fingerprint of everything that determines the result (not where it is written, nor resume)."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    for key in VOLATILE_KEYS:
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    return hashlib.sha1(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resume_checkpoint(cfg: DictConfig, client: MlflowClient | None, experiment_id: str | None) -> Path | None:
    """The last.pt to continue: an explicit path, or for `auto` the newest unfinished MLflow run of this
    experiment with the same config fingerprint whose last.pt still exists."""
    if cfg.resume in NEVER:
        return None
    if cfg.resume != "auto":
        path = Path(str(cfg.resume))
        path = path / "checkpoints" / "last.pt" if path.is_dir() else path
        if not path.is_file():
            raise ConfigError(f"resume={cfg.resume}: no last.pt there (give a run folder or a last.pt)")
        return path
    if client is None:
        raise ConfigError("resume=auto needs the MLflow store to find the run; pass resume=<run folder>")
    wanted = config_hash(cfg)
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{CONFIG_HASH}` = '{wanted}' and attributes.status != 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    for run in runs:
        candidate = Path(run.data.tags.get(OUTPUT_DIR, "")) / "checkpoints" / "last.pt"
        if candidate.is_file():
            return candidate
    log.info("resume=auto: no unfinished run with this config; starting a new run")
    return None
