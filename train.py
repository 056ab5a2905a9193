"""Train a galaxy-morphology classifier: python train.py [group=option ...] [key=value ...]."""

import hydra
from omegaconf import DictConfig

import astro.config  # noqa: F401  (registers the schema and resolvers before Hydra composes)
from astro.cli import user_errors_as_one_line
from astro.pipeline import run_training


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@user_errors_as_one_line
def main(cfg: DictConfig) -> float:
    return run_training(cfg)


if __name__ == "__main__":
    main()
