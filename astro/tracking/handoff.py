"""The hand-off from a sweep to its jobs: which MLflow parent run to nest under, and the job's tags.

astro.sweeps.callback' Hydra callback runs in each job's process before the job (wherever it runs: in-process,
joblib workers, submitit or Slurm) and passes these through two environment variables, which
`Tracker.start` reads. Nothing else uses them.
"""

from __future__ import annotations

import json
import os

PARENT_RUN_ENV = "ASTRO_PARENT_RUN_ID"
RUN_TAGS_ENV = "ASTRO_RUN_TAGS"  # JSON object


def hand_off(parent_run_id: str, tags: dict[str, str]) -> None:
    os.environ[PARENT_RUN_ENV] = parent_run_id
    os.environ[RUN_TAGS_ENV] = json.dumps(tags)


def clear() -> None:
    os.environ.pop(PARENT_RUN_ENV, None)
    os.environ.pop(RUN_TAGS_ENV, None)


def received() -> tuple[str | None, dict[str, str]]:
    """(parent run id or None, the job's tags) for the job running in this process."""
    return os.environ.get(PARENT_RUN_ENV) or None, json.loads(os.environ.get(RUN_TAGS_ENV, "{}"))
