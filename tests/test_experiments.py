"""Every experiment runs end to end at smoke size, discovered with Hydra's glob sweep (as
lightning-hydra-template's test_sweeps does): a new experiment file is tested without editing a list."""

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import CONF, run_script, smoke_overrides

pytestmark = pytest.mark.slow
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml") if not p.stem.startswith("_"))


def test_every_experiment_trains_at_smoke_size(data_dir, tmp_path, store):
    result = run_script(
        "train.py",
        "-m",
        "experiment=glob(*)",
        *smoke_overrides(data_dir, tmp_path, store),
        "data=synthetic",  # experiments on real data (seed_question: gz1_sdss) too: a clone has no ../shared
        "epochs=1",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(store["uri"])
    experiment = client.get_experiment_by_name("astro-debug").experiment_id
    jobs = client.search_runs([experiment], "tags.`astro.sweep.role` = 'job'")
    ran = sorted(run.data.params["run_name"] for run in jobs if run.data.params.get("run_name") != "None")
    assert len(jobs) == len(EXPERIMENTS) and all(run.info.status == "FINISHED" for run in jobs)
    assert {"run1", "run2"} <= set(ran)
