import pytest
import torch

from astro.data.transforms import DihedralAugment, Normalize, apply_views, dihedral, resize_batch


def test_dihedral_views_are_the_8_distinct_symmetries():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    views = [dihedral(x, v) for v in range(8)]
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    assert torch.equal(dihedral(x, 0), x)


def test_augment_applies_a_symmetry_to_each_image_independently():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).view(2, 3, 8, 8).repeat(50, 1, 1, 1)
    out = DihedralAugment()(x, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    symmetries = [{tuple(dihedral(img, v).flatten().tolist()) for v in range(8)} for img in x[:2]]
    seen = set()
    for i, img in enumerate(out):
        key = tuple(img.flatten().tolist())
        assert key in symmetries[i % 2]
        seen.add(key)
    assert len(seen) > 8  # different images got different views


def test_no_rotate_no_flip_is_identity():
    x = torch.randint(0, 255, (4, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(DihedralAugment(rotate=False, flip=False)(x), x)


@pytest.mark.parametrize("method", ["area", "bilinear", "bicubic", "nearest"])
def test_resize_batch(method):
    images = torch.full((2, 256, 256, 3), 200, dtype=torch.uint8)
    out = resize_batch(images, 64, method)
    assert out.shape == (2, 3, 64, 64) and out.dtype == torch.uint8
    assert (out == 200).all()


def test_normalize_uses_given_statistics():
    x = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    out = Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])(x)
    assert torch.allclose(out, torch.full_like(out, 2.0))


def test_jitter_keeps_shape_dtype_and_layout_and_changes_pixels():
    x = torch.randint(0, 255, (16, 3, 32, 32), dtype=torch.uint8).contiguous(
        memory_format=torch.channels_last
    )
    out = DihedralAugment(max_angle=20.0, min_scale=0.85)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert out.is_contiguous(memory_format=torch.channels_last)
    exact = {tuple(dihedral(img, v).flatten().tolist()) for img in x for v in range(8)}
    assert sum(tuple(img.flatten().tolist()) not in exact for img in out) >= 12


def test_views_chosen_per_image_equal_each_images_own_symmetry_and_keep_the_layout():
    x = torch.randint(0, 255, (16, 3, 8, 8), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    views = torch.arange(16) % 8
    out = apply_views(x, views)
    assert torch.equal(out, torch.stack([dihedral(img, int(v)) for img, v in zip(x, views, strict=True)]))
    assert out.is_contiguous(memory_format=torch.channels_last)
