"""Shared fixtures: a small synthetic Galaxy10 file per session, temporary MLflow stores, composing."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from astro.config.compat import VERSION_BASE
from astro.config.schema import register_configs
from astro.data.synthetic import generate_h5, synthetic_path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED = ROOT.parent / "shared" / "data"
# Debian's chromium for the browser tests (the demo's and MLflow UI's), started headless and offline.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
register_configs()


def zero_image_chunks(path: Path, indices: range) -> None:
    """Overwrite the stored (compressed) chunks of the given images with zeros, keeping the HDF5
    header intact: a file that opens and validates but cannot be read to the end."""
    import h5py

    with h5py.File(path, "r") as f:
        chunks = [f["images"].id.get_chunk_info(i) for i in indices]
    with open(path, "r+b") as fh:
        for chunk in chunks:
            fh.seek(chunk.byte_offset)
            fh.write(bytes(chunk.size))


def compose_train(overrides: list[str] | None = None, name: str = "train") -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), **VERSION_BASE):
        return compose(config_name=name, overrides=overrides or [])


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the smoke-sized synthetic file, generated once per session."""
    root = tmp_path_factory.mktemp("data")
    generate_h5(str(synthetic_path(root / "synthetic", 300, seed=0)), 300, seed=0)
    return root


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    """Overrides that send tracking to a fresh sqlite store and artifact root under tmp_path."""
    return {
        "uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "artifact_root": str(tmp_path / "mlartifacts"),
    }


def store_overrides(store: dict[str, str]) -> list[str]:
    return [f"tracking.uri={store['uri']}", f"tracking.artifact_root={store['artifact_root']}"]


def smoke_overrides(data_dir: Path, tmp_path: Path, store: dict[str, str] | None = None) -> list[str]:
    """What every smoke-sized test run starts from: debug=smoke on the session's synthetic file, a cache
    under tmp_path and, when given, a private MLflow store."""
    overrides = ["debug=smoke", f"paths.data_dir={data_dir}", f"paths.cache_dir={tmp_path / 'cache'}"]
    return overrides + (store_overrides(store) if store else [])


def run_script(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["HYDRA_FULL_ERROR"] = "0"
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture(scope="session")
def smoke_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """One `python train.py debug=smoke` run shared by the demo tests: its checkpoint and MLflow store."""
    root = tmp_path_factory.mktemp("smoke_model")
    store = {"uri": f"sqlite:///{root / 'mlflow.db'}", "artifact_root": str(root / "mlartifacts")}
    result = run_script(
        "train.py",
        *smoke_overrides(data_dir, root, store),
        f"hydra.run.dir={root / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"checkpoint": root / "run" / "checkpoints" / "best.pt", "uri": store["uri"], "root": root}


CLUSTER_BINARIES = (
    "munged",
    "mariadbd",
    "mariadb-install-db",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sacct",
    "psql",
)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """scripts/cluster/up for the session (Slurm with accounting, PostgreSQL, an mlflow server, all on
    loopback), down at the end; yields the environment that points a command at it."""
    missing = [name for name in CLUSTER_BINARIES if shutil.which(name) is None]
    missing += [] if glob.glob("/usr/lib/postgresql/*/bin/postgres") else ["postgres"]
    if missing:
        pytest.skip(
            "the cluster needs Debian's slurm-wlm slurmdbd munge mariadb-server postgresql "
            f"(.ci/run installs them); missing: {', '.join(missing)}"
        )
    if os.geteuid() != 0:
        pytest.skip("the cluster's daemons (slurmd, munged) are started as root")
    state = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "ASTRO_CLUSTER_DIR": str(state), "PYTHON": sys.executable}
    up = subprocess.run([ROOT / "scripts/cluster/up"], env=env, capture_output=True, text=True, timeout=600)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        exports = re.findall(r"^export (\w+)=(.*)$", (state / "env").read_text(), re.M)
        yield {**env, **dict(exports), "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
    finally:
        subprocess.run([ROOT / "scripts/cluster/down", "--purge"], env=env, capture_output=True, timeout=300)
