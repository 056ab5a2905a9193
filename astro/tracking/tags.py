"""Every MLflow tag name astro writes or reads, in one place: the writers (training, sweeps, evaluation,
sync) and the readers (resume, comparison, registry) must spell them alike, and `mlflow ui` filters such
as tags.`astro.sweep.name` = '...' rely on them not changing."""

from __future__ import annotations

from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

# MLflow's own: what nests a run under its sweep parent in the UI, and the run's name (in search filters).
PARENT_RUN_ID = MLFLOW_PARENT_RUN_ID
RUN_NAME = MLFLOW_RUN_NAME
# An experiment tag: marks astro's experiments as model training, not GenAI, where a UI reads it
# (docs/data_download.md).
EXPERIMENT_KIND, MODEL_TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"

# A training run: what it trained on, where, with which config, and where its files are (resume=auto).
DATA = "astro.data"
DEVICE = "astro.device"
CONFIG_HASH = "astro.config_hash"
OUTPUT_DIR = "astro.output_dir"
ERROR = "astro.error"  # why a run, a sweep job or a sweep's parent failed
SOURCE_RUN_ID = "astro.source_run_id"  # an evaluation run: the training run of its checkpoint
SYNCED_FROM = "astro.synced_from"  # a run replayed from an offline journal: that journal

# A sweep: the parent and its jobs share SWEEP_ID (the parent's run id) and SWEEP_NAME.
SWEEP_ID = "astro.sweep.id"
SWEEP_NAME = "astro.sweep.name"
SWEEP_ROLE = "astro.sweep.role"  # PARENT or JOB
PARENT, JOB = "parent", "job"
SWEEP_SWEEPER = "astro.sweep.sweeper"
SWEEP_LAUNCHER = "astro.sweep.launcher"
SWEEP_DIR = "astro.sweep.dir"
SWEEP_OVERRIDES = "astro.sweep.overrides"  # JSON list of the multirun's command-line overrides
SWEEP_JOBS = "astro.sweep.jobs"
SWEEP_FAILED_JOBS = "astro.sweep.failed_jobs"
JOB_NUM = "astro.job.num"
# A sweep's parent, when the sweep ends: its best job on validation (astro.sweeps.summary).
BEST_RUN_ID = "astro.sweep.best_run_id"
BEST_RUN_NAME = "astro.sweep.best_run_name"
SWEEP_PRUNED_JOBS = "astro.sweep.pruned_jobs"
JOB_OVERRIDES = "astro.job.overrides"  # JSON list of the job's Hydra overrides

# An Optuna sweep's parent: the study (every invocation of a resumed study shares STUDY and STORAGE).
STUDY = "astro.optuna.study"
STORAGE = "astro.optuna.storage"  # without its password
OPTUNA_N_TRIALS = "astro.optuna.n_trials"
OPTUNA_COMPLETE_BEFORE = "astro.optuna.complete_before"
OPTUNA_RECOVERED = "astro.optuna.recovered"
OPTUNA_RETRIED = "astro.optuna.retried"
OPTUNA_COMPLETE = "astro.optuna.complete"
OPTUNA_BEST_TRIAL = "astro.optuna.best_trial"
OPTUNA_MODE = "astro.optuna.mode"  # batch or async
OPTUNA_PRUNER = "astro.optuna.pruner"  # the pruner's class, "none" without one
# An Optuna sweep's job: its trial, and what ended it when the pruner stopped it (the run ends KILLED).
OPTUNA_TRIAL = "astro.optuna.trial"
OPTUNA_STATE, PRUNED = "astro.optuna.state", "PRUNED"
PRUNED_AT_EPOCH = "astro.optuna.pruned_at_epoch"
