"""Config composition through Hydra's compose API, and up-front validation.

Options are discovered from conf/<group>/*.yaml (files starting with _ are bases, not options), so a
new YAML is tested without editing this file."""

import re

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from astro.config.validation import validate
from astro.data.synthetic import synthetic_path
from astro.errors import ConfigError
from tests.conftest import CONF, SHARED, compose_train

GROUPS = (
    "model",
    "loss",
    "sampler",
    "optim",
    "data",
    "augment",
    "experiment",
    "debug",
    "hparams_search",
    "adapt",
)
# What an option needs beside it to validate (train-time adaptation needs the target's images).
NEEDS = {
    "mmd": ["data.unlabeled=/target"],
    "coral": ["data.unlabeled=/target"],
    "dann": ["data.unlabeled=/target"],
}


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


def test_every_group_has_options():
    assert all(options(group) for group in GROUPS)
    assert {"run1", "run2", "seed_recipe", "posthoc_rebalanced"} <= set(options("experiment"))


def test_default_composition():
    cfg = compose_train()
    assert cfg.data.name == "synthetic" and cfg.loss._target_ == "astro.training.losses.FocalLoss"
    assert (
        cfg.sampler._target_ == "astro.training.samplers.weighted" and cfg.optimized_metric == "val/macro_f1"
    )
    for key in ("epochs", "seed", "image_size", "batch_size", "optimized_metric", "max_images"):
        assert key in cfg
    validate(cfg)


@pytest.mark.parametrize(("group", "option"), [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes_and_validates(group, option):
    cfg = compose_train([f"{group}={option}", *(NEEDS.get(option, []) if group == "adapt" else [])])
    if (group, option) == ("adapt", "bn"):  # evaluate.py's and predict.py's option, refused by train.py
        with pytest.raises(ConfigError, match="adapt=bn is test-time adaptation"):
            validate(cfg)
        return
    validate(cfg)
    OmegaConf.to_container(cfg.model, resolve=True)
    OmegaConf.to_container(cfg.data, resolve=True, throw_on_missing=False)


def test_the_readme_command_composes():
    cfg = compose_train(["loss.gamma=3.0", "epochs=75"])
    assert cfg.loss.gamma == 3.0 and cfg.epochs == 75


@pytest.mark.parametrize(("name", "gamma", "epochs"), [("run1", 2.0, 50), ("run2", 3.0, 75)])
def test_the_seed_runs_build_on_the_seed_recipe(name, gamma, epochs):
    cfg, recipe = compose_train([f"experiment={name}"]), compose_train(["experiment=seed_recipe"])
    assert (cfg.loss.gamma, cfg.epochs, cfg.image_size) == (gamma, epochs, 128)
    assert cfg.loss.alpha == "inverse_frequency" and cfg.sampler._target_.endswith("weighted")
    assert cfg.run_name == name and cfg.augment == recipe.augment and cfg.model == recipe.model


def test_smoke_debug_config_is_small():
    cfg = compose_train(["debug=smoke"])
    assert cfg.epochs <= 2 and cfg.max_images <= 500 and cfg.image_size <= 64


@pytest.mark.parametrize("data", [o for o in options("data") if o not in ("image_folder",)])
def test_smoke_shrinks_every_data_source(data, data_dir, tmp_path):
    """debug=smoke takes a 300-image subset of whatever source the data option builds."""
    if data.startswith(("gz1_sdss", "galaxy10_samples")) and not SHARED.is_dir():
        pytest.skip(f"real images not found at {SHARED}")
    path = synthetic_path(data_dir / "synthetic", 300, seed=0)
    extra = [f"data.source.path={path}"] if data == "galaxy10" else []
    cfg = compose_train(["debug=smoke", f"data={data}", f"paths.data_dir={data_dir}", *extra])
    source = instantiate(cfg.data.source)
    assert len(source) <= 300 and len(source) >= 30 and len(set(source.labels())) == len(source.class_names)


def test_typo_in_a_key_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="epoch"):
        compose_train(["epoch=3"])


def test_unknown_group_option_names_the_choices():
    with pytest.raises(ConfigCompositionException, match="focal"):
        compose_train(["loss=focall"])


def test_wrong_type_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="epochs"):
        compose_train(["epochs=many"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("epochs=-1", "epochs=-1 must be a positive integer"),
        ("batch_size=0", "batch_size=0 must be a positive integer"),
        ("loss.gamma=-0.5", "loss.gamma=-0.5 must be >= 0"),
        ("loss.beta=1.0", "loss.beta=1.0 must be in [0, 1)"),
        ("loss=cross_entropy loss.label_smoothing=1.5", "loss.label_smoothing=1.5 must be in [0, 1)"),
        ("image_size=100", "image_size=100 must be a multiple of 16"),
        ("optimized_metric=train/loss", "optimized_metric='train/loss' must be one of"),
        ("optim.optimizer.lr=0", "optim.optimizer.lr=0 must be > 0"),
        ("device=tpu", "device='tpu'"),
        ("max_images=3", "max_images=3 must be null or an integer >= 10"),
        ("logit_adjustment=-1", "logit_adjustment=-1.0 must be >= 0"),
        ("data.split.train=0.9", "data.split fractions"),
        ("adapt=mmd", "adapt needs unlabelled images of the target survey: data.unlabeled=<folder"),
        ("data.unlabeled=/sdss", "data.unlabeled=/sdss is given but no adapt objective: add adapt=mmd"),
        ("adapt=dann adapt.weight=-1 data.unlabeled=/sdss", "adapt.weight=-1 must be >= 0"),
        (
            "adapt=coral data.unlabeled=/sdss data.unlabeled_field=0",
            "data.unlabeled_field=0 must be in (0, 1]",
        ),
    ],
)
def test_validation_names_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(compose_train(override.split()))
