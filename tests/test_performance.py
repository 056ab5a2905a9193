"""The speed switches, exercised on CPU (CI has no GPU), and the benchmarks at toy size."""

import numpy as np
import pytest
import torch

from astro.bench.inference_latency import bench_inference
from astro.bench.predict_speed import bench_predict
from astro.bench.recipe_time import bench_recipe
from astro.bench.step_time import bench_step
from astro.bench.train_speed import bench_train
from astro.data.datamodule import GalaxyDataModule
from astro.data.galaxy10 import Galaxy10H5
from astro.data.synthetic import synthetic_path
from astro.data.transforms import DihedralAugment
from astro.device import Performance
from astro.models.astro_cnn import AstroCNN
from astro.training.losses import FocalLoss
from astro.training.optim import warmup_cosine
from astro.training.samplers import weighted
from astro.training.trainer import Trainer


def test_amp_auto_means_bf16_on_cuda_only():
    assert not Performance.resolve(True, "auto", False, torch.device("cpu")).amp
    assert Performance.resolve(True, "auto", False, torch.device("cuda")).amp
    assert (
        Performance.resolve(False, True, False, torch.device("cpu")).memory_format == torch.contiguous_format
    )


def trainer(perf: Performance) -> Trainer:
    torch.manual_seed(0)
    model = AstroCNN()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return Trainer(model, FocalLoss(), opt, warmup_cosine(opt, 10, 1), torch.device("cpu"), perf=perf)


def test_bf16_autocast_step_runs_and_stays_close_to_fp32():
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    fp32 = trainer(Performance(amp=False)).train_step(x, y)
    bf16 = trainer(Performance(amp=True)).train_step(x, y)
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16)
    assert abs(float(bf16) - float(fp32)) < 0.05 * float(fp32)


def test_channels_last_model_and_batches(data_dir, tmp_path):
    t = trainer(Performance(channels_last=True))
    conv = t.model.features[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    source = Galaxy10H5(str(synthetic_path(data_dir / "synthetic", 300, seed=0)))
    data = GalaxyDataModule(source, 32, str(tmp_path))
    data.keep_on(torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    x, _ = next(
        iter(
            data.train_batches(
                weighted(data.labels("train"), gen), 16, torch.device("cpu"), DihedralAugment(), gen
            )
        )
    )
    assert x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)


def test_compile_wraps_the_model_but_checkpoints_use_the_plain_module():
    t = trainer(Performance(compile=True))
    assert t.forward is not t.model and not any(k.startswith("_orig_mod") for k in t.model.state_dict())


@pytest.mark.slow
def test_train_benchmark_runs_all_three_variants():
    result = bench_train(images=60, image_size=32, batch_size=8, steps=2, rounds=1, workers=0)
    rates = result["images_per_s"]
    assert set(rates) == {"a_naive_png_pil_dataloader", "b_framework", "c_pure_compute"}
    assert all(np.isfinite(v) and v > 0 for v in rates.values())
    assert result["b_over_c"] == pytest.approx(rates["b_framework"] / rates["c_pure_compute"])


@pytest.mark.slow
def test_step_benchmark_times_every_part():
    result = bench_step(images=60, image_size=32, batch_size=8, steps=2, compile_model=False)
    parts = {"data_path_only", "framework_step_default", "validate_per_epoch", "checkpoints_per_epoch"}
    assert parts <= set(result["ms"]) and all(ms > 0 for ms in result["ms"].values())
    assert {"step_fixed_batch_fp32_foreach", "step_fixed_batch_fp32_fused"} <= set(
        result["ms"]
    )  # CPU: no bf16


def test_inference_benchmark_reports_percentiles():
    result = bench_inference(None, image_size=32, repeats=5)
    for key in ("no_tta", "tta_8_views"):
        assert 0 < result["latency"][key]["p50_ms"] <= result["latency"][key]["p95_ms"]


def test_predict_benchmark_compares_end_to_end_with_pure_forward():
    result = bench_predict(rows=32, sizes=(20, 40), image_sizes=[32], batch_size=16)
    speeds = result["32px"]
    assert speeds["pure_forward_img_s"] > 0 and speeds["jpeg_folder_img_s"] > 0 and speeds["hdf5_img_s"] > 0
    assert speeds["hdf5_vs_forward"] == speeds["hdf5_img_s"] / speeds["pure_forward_img_s"]
    for source in ("jpeg_folder", "hdf5"):
        rss = result[f"peak_rss_mb_{source}_32px"]
        assert rss["20"] > 50 and rss["growth"] == rss["40"] / rss["20"] - 1


@pytest.mark.slow
def test_recipe_benchmark_times_a_real_train_run(data_dir):
    result = bench_recipe("run2", images=300, epochs=1, compile_modes=[False], data_dir=data_dir)
    run = result["runs"]["compile_false"]
    assert result["settings"]["image_size"] == 128 and result["settings"]["train_images"] == 210
    assert 0 < run["fit_s"] < run["process_wall_s"] and run["median_train_images_per_s"] > 0
    assert run["peak_gpu_memory_mb"] is None  # no GPU here
