"""What a sweep's parent run holds when the sweep ends, whatever the sweeper: the best job on validation
(its run id and name as tags, its kept and test scores as the parent's metrics) and the comparison
report of `python -m astro compare` as artifacts. A report that cannot be built is a warning: the jobs'
results are already in MLflow, and the sweep has not failed."""

from __future__ import annotations

import logging
from pathlib import Path

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from astro.comparison.report import write_comparison
from astro.comparison.selection import sweep_runs
from astro.tracking.metric_names import selection_score
from astro.tracking.tags import BEST_RUN_ID, BEST_RUN_NAME

log = logging.getLogger(__name__)
SCORES = ("test/macro_f1", "test/accuracy")  # with every kept/* metric


def best_job(runs: list[Run]) -> Run | None:
    """The FINISHED job with the highest kept validation score (never a pruned or failed one)."""
    scored = [r for r in runs if r.info.status == "FINISHED" and selection_score(r.data.metrics) is not None]
    return max(scored, key=lambda run: selection_score(run.data.metrics), default=None)


def summarize(client: MlflowClient, parent_run_id: str, tracking_uri: str, out_dir: Path) -> None:
    """Log the best job and the comparison report to the parent run."""
    try:
        sweep = sweep_runs(client, client.get_run(parent_run_id))
        best = best_job(sweep.runs)
        if best is None:
            log.warning("sweep %s: no job finished with a validation score, no best run", parent_run_id)
            return
        client.set_tag(parent_run_id, BEST_RUN_ID, best.info.run_id)
        client.set_tag(parent_run_id, BEST_RUN_NAME, best.info.run_name)
        metrics = best.data.metrics
        for key, value in metrics.items():
            if key.startswith("kept/") or key in SCORES:
                client.log_metric(parent_run_id, key, value)
        report = write_comparison(sweep, out_dir, tracking_uri, client)
        client.log_artifacts(parent_run_id, str(report.parent), "report")
        log.info("Best job %s (%s); comparison report %s", best.info.run_name, best.info.run_id, report)
    except Exception as error:  # the sweep's own results stand without the report
        log.warning("sweep %s: the comparison report could not be built: %s", parent_run_id, error)
