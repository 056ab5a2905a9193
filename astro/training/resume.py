"""Resuming a run: the config fingerprint that says two invocations are the same run, and finding the
last.pt to continue (astro.checkpoint.state holds what last.pt keeps).

last.pt is written at every epoch end and when a stop is requested mid-epoch. It keeps the epoch's
batch order and the RNG states after the last finished step, so a resumed run draws exactly what the
uninterrupted run would have drawn: on CPU the final metrics are equal.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from astro.checkpoint.moved import flat_layout
from astro.errors import ConfigError
from astro.tracking.tags import CONFIG_HASH, OUTPUT_DIR

log = logging.getLogger(__name__)
# Keys that may differ between the interrupted and the resuming invocation.
VOLATILE_KEYS = ("resume", "progress", "paths.output_dir")
NEVER = (None, False, "", "never")


def config_hash(cfg: DictConfig) -> str:
    """Fingerprint of everything that determines the result (not where it is written, nor resume)."""
    return _digest(_result_tree(cfg))


def config_hashes(cfg: DictConfig) -> tuple[str, str]:
    """The fingerprint, and the same config's as astro's flat layout wrote it (its `_target_`s named the
    old modules), so a run started before the move to packages is still found and continued."""
    tree = _result_tree(cfg)
    return _digest(tree), _digest(flat_layout(tree))


# Keys that only say "no train-time adaptation", dropped so that a run that does not adapt keeps the
# fingerprint it had before adaptation existed (and an unfinished run from then is still continued).
UNADAPTED = {
    "adapt": "none",
    "data.unlabeled": None,
    "data.unlabeled_field": 1.0,
    "data.unlabeled_max_images": 4096,
}


def _result_tree(cfg: DictConfig) -> dict[str, Any]:
    tree = OmegaConf.to_container(cfg, resolve=True)
    if tree.get("adapt", "none") == "none" and tree.get("data", {}).get("unlabeled") is None:
        _drop(tree, UNADAPTED)
    _drop(tree, VOLATILE_KEYS)
    return tree


def _drop(tree: dict[str, Any], keys) -> None:
    for key in keys:
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)


def _digest(tree: dict[str, Any]) -> str:
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
    runs = [
        run
        for wanted in dict.fromkeys(config_hashes(cfg))
        for run in client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{CONFIG_HASH}` = '{wanted}' and attributes.status != 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=20,
        )
    ]
    for run in sorted(runs, key=lambda run: run.info.start_time, reverse=True):
        candidate = Path(run.data.tags.get(OUTPUT_DIR, "")) / "checkpoints" / "last.pt"
        if candidate.is_file():
            return candidate
    log.info("resume=auto: no unfinished run with this config; starting a new run")
    return None
