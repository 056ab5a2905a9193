"""Survey randomisation: each config option composes alone, keeps the batch format, and does what it says."""

import pytest
import torch
from hydra.utils import instantiate

from astro.data.survey_augment import SurveyAugment
from astro.data.transforms import DihedralAugment
from tests.conftest import compose_train

OPTIONS = ("colour", "noise", "blur", "scale_shift", "transfer")


def batch(n=8, size=32, level=30):
    """Flat sky with one bright round source in the middle, uint8 channels_last like training batches."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    source = 200 * torch.exp(-((x - size / 2 + 0.5) ** 2 + (y - size / 2 + 0.5) ** 2) / 8.0)
    image = (level + source).clamp(0, 255).round().to(torch.uint8)
    return image.expand(n, 3, size, size).contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("option", OPTIONS)
def test_every_option_composes_alone_and_keeps_the_batch_format(option):
    augment = instantiate(compose_train([f"augment={option}"]).augment)
    assert isinstance(augment, SurveyAugment)
    out = augment(batch(), torch.Generator().manual_seed(0))
    assert out.shape == (8, 3, 32, 32) and out.dtype == torch.uint8
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_all_off_is_exactly_the_dihedral_augment():
    x = batch()
    plain = DihedralAugment()(x, torch.Generator().manual_seed(3))
    assert torch.equal(SurveyAugment()(x, torch.Generator().manual_seed(3)), plain)


def test_the_same_generator_gives_the_same_batch():
    augment = instantiate(compose_train(["augment=transfer"]).augment)
    first = augment(batch(), torch.Generator().manual_seed(1))
    assert torch.equal(first, augment(batch(), torch.Generator().manual_seed(1)))


def test_colour_changes_the_light_but_keeps_the_sky():
    out = SurveyAugment(gain=0.3, saturation=0.3)(batch(), torch.Generator().manual_seed(0)).float()
    assert (out[:, :, :4, :4] - 30).abs().max() <= 1
    peaks = out[:, :, 16, 16]
    assert peaks.std() > 5  # per image and channel gains differ


def test_noise_adds_pixel_scatter_to_the_sky():
    out = SurveyAugment(noise=8.0)(batch(), torch.Generator().manual_seed(0)).float()
    assert out[:, :, :8, :8].std() > 1.0


def test_blur_lowers_a_sharp_peak_and_scale_changes_its_size():
    x = batch()
    blurred = SurveyAugment(blur=2.0, rotate=False, flip=False)(x, torch.Generator().manual_seed(0))
    assert blurred[:, 0, 16, 16].float().mean() < x[:, 0, 16, 16].float().mean()
    zoomed = SurveyAugment(scale=0.5, rotate=False, flip=False)(x, torch.Generator().manual_seed(0)).float()
    area = (zoomed[:, 0] > 100).flatten(1).sum(1)
    assert area.max() > area.min()  # zoom in and out per image
