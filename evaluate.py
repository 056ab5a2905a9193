"""Evaluate a checkpoint: python evaluate.py checkpoint=PATH [split=test] [tta=true] [data=OTHER]."""

import hydra
from omegaconf import DictConfig

import astro.config  # noqa: F401  (registers the resolvers before Hydra composes)
from astro.cli import user_errors_as_one_line
from astro.pipeline import run_evaluation


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@user_errors_as_one_line
def main(cfg: DictConfig) -> None:
    run_evaluation(cfg)


if __name__ == "__main__":
    main()
