"""Config composition through Hydra's compose API, and up-front validation."""

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from astro.config import validate
from astro.errors import ConfigError
from tests.conftest import compose_train

GROUPS = {
    "model": ["astro_cnn", "resnet18", "small_resnet"],
    "loss": ["focal", "cross_entropy"],
    "sampler": ["weighted", "shuffle"],
    "schedule": ["adamw_cosine", "sgd_onecycle", "plateau"],
    "data": ["synthetic", "galaxy10"],
    "augment": ["dihedral", "dihedral_jitter", "none"],
    "experiment": ["run1", "run2", "seed_recipe", "improved"],
}


def test_default_composition():
    cfg = compose_train()
    assert cfg.data.name == "synthetic" and cfg.loss._target_ == "astro.losses.FocalLoss"
    assert cfg.sampler._target_ == "astro.samplers.weighted" and cfg.optimized_metric == "val/macro_f1"
    for key in ("epochs", "seed", "image_size", "batch_size", "optimized_metric"):
        assert key in cfg
    validate(cfg)


@pytest.mark.parametrize(("group", "option"), [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_group_option_composes_and_validates(group, option):
    cfg = compose_train([f"{group}={option}"])
    validate(cfg)
    OmegaConf.to_container(cfg.model)  # the node resolves


def test_the_readme_command_composes():
    cfg = compose_train(["loss.gamma=3.0", "epochs=75"])
    assert cfg.loss.gamma == 3.0 and cfg.epochs == 75


@pytest.mark.parametrize(("name", "gamma", "epochs"), [("run1", 2.0, 50), ("run2", 3.0, 75)])
def test_seed_experiments(name, gamma, epochs):
    cfg = compose_train([f"experiment={name}"])
    assert (cfg.loss.gamma, cfg.epochs, cfg.image_size) == (gamma, epochs, 128)
    assert cfg.loss.alpha == "inverse_frequency" and cfg.sampler._target_.endswith("weighted")
    assert cfg.run_name == name


def test_smoke_debug_config_is_small():
    cfg = compose_train(["debug=smoke"])
    assert cfg.epochs <= 2 and cfg.data.source.num_images <= 500 and cfg.image_size <= 64


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
        ("image_size=100", "image_size=100 must be a multiple of 16"),
        ("optimized_metric=train/loss", "optimized_metric='train/loss' must be one of"),
        ("schedule.optimizer.lr=0", "lr=0"),
        ("device=tpu", "device='tpu'"),
        ("data.split.train=0.9", "data.split fractions"),
    ],
)
def test_validation_names_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", "\\(")):
        validate(compose_train([override]))
