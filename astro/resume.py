"""Resuming a run: the training state in last.pt, RNG capture/restore, and finding the run to continue.

last.pt is written at every epoch end and when a stop is requested mid-epoch. It keeps the epoch's
batch order and the RNG states after the last finished step, so a resumed run draws exactly what the
uninterrupted run would have drawn: on CPU the final metrics are equal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from astro.errors import ConfigError

log = logging.getLogger(__name__)
# Keys that may differ between the interrupted and the resuming invocation.
VOLATILE_KEYS = ("resume", "progress", "paths.output_dir")


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


def capture_rng(generator: torch.Generator) -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resume_checkpoint(cfg: DictConfig, client: MlflowClient, experiment_id: str) -> Path | None:
    """The last.pt to continue: an explicit path, or for `auto` the newest unfinished MLflow run of this
    experiment with the same config fingerprint whose last.pt still exists."""
    if cfg.resume in (None, False, "", "never"):
        return None
    if cfg.resume != "auto":
        path = Path(str(cfg.resume))
        path = path / "checkpoints" / "last.pt" if path.is_dir() else path
        if not path.is_file():
            raise ConfigError(f"resume={cfg.resume}: no last.pt there (give a run folder or a last.pt)")
        return path
    wanted = config_hash(cfg)
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`astro.config_hash` = '{wanted}' and attributes.status != 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    for run in runs:
        candidate = Path(run.data.tags.get("astro.output_dir", "")) / "checkpoints" / "last.pt"
        if candidate.is_file():
            return candidate
    log.info("resume=auto: no unfinished run with this config; starting a new run")
    return None
