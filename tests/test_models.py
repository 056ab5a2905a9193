import pytest
import torch
from hydra.utils import instantiate

from astro.models.astro_cnn import AstroCNN
from tests.conftest import compose_train


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_astro_cnn_has_the_seed_parameter_count():
    assert count(AstroCNN(num_classes=10, in_channels=3)) == 423_562


@pytest.mark.parametrize("size", [32, 64, 128])
def test_astro_cnn_output_shape(size):
    model = AstroCNN(num_classes=10).eval()
    assert model(torch.zeros(2, 3, size, size)).shape == (2, 10)


def test_models_build_from_config_with_instantiate():
    cnn = instantiate(compose_train().model, num_classes=4)
    assert isinstance(cnn, AstroCNN) and cnn.head[-1].out_features == 4
    resnet = instantiate(compose_train(["model=resnet18"]).model, num_classes=10)
    assert resnet.fc.out_features == 10
    assert 11_000_000 < count(resnet) < 11_300_000
    assert resnet(torch.zeros(2, 3, 64, 64)).shape == (2, 10)


def test_small_resnet_parameter_count_and_shapes():
    from astro.models.small_resnet import SmallResNet

    assert count(SmallResNet(num_classes=10)) == 1_769_610
    model = SmallResNet(num_classes=4).eval()
    assert count(model) == 1_769_610 - 6 * 257  # 6 fewer outputs of the 256->k head
    for size in (32, 64, 128):
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 4)
