"""Prepare a data set once: validate the source, compute the split, write the training cache and an EDA
report. `python -m astro.data.prepare data=galaxy10 data.source.path=/path/Galaxy10_DECals.h5`

It composes the training config (conf/prepare.yaml = conf/train.yaml + its own output folder), so the
same `data=...`/`image_size=...` overrides address the same cache that train.py then reuses.
"""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from astro.cli import user_errors_as_one_line
from astro.config.compat import VERSION_BASE, with_allowed_targets
from astro.config.schema import register_configs
from astro.config.validation import validate
from astro.data.datamodule import GalaxyDataModule
from astro.data.eda import class_table_text, write_eda
from astro.paths import PROJECT_ROOT

log = logging.getLogger(__name__)


def prepare(cfg: DictConfig) -> Path:
    """Build (or reuse) the cache for cfg.data at cfg.image_size, log the class table, write the report."""
    validate(cfg)
    start = time.perf_counter()
    data: GalaxyDataModule = instantiate(cfg.data)
    log.info("Cache: %s", data.cache.directory)
    cached = time.perf_counter() - start
    log.info(
        "Data %s, %d classes, %d images\n%s",
        data.name,
        data.num_classes,
        len(data.labels("all")),
        class_table_text(data.class_table()),
    )
    report = write_eda(data, cfg.paths.output_dir)
    log.info(
        "Prepared %s in %.1f s (cache %.1f s, report %.1f s), peak RSS %.0f MB | report %s",
        data.name,
        time.perf_counter() - start,
        cached,
        time.perf_counter() - start - cached,
        peak_rss_mb(),
        report,
    )
    return report


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# An absolute path: `python -m astro prepare` imports this module, where a relative one would be looked up
# as a Python package.
register_configs()  # the schemas and resolvers Hydra composes this app with


@with_allowed_targets
@hydra.main(config_path=str(PROJECT_ROOT / "conf"), config_name="prepare", **VERSION_BASE)
@with_allowed_targets
@user_errors_as_one_line
def main(cfg: DictConfig) -> None:
    prepare(cfg)


if __name__ == "__main__":
    main()
