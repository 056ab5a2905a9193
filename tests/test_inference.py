"""Inference for the demo: upload decoding, training-identical preprocessing, TTA, Grad-CAM, model lookup."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from mlflow.tracking import MlflowClient
from PIL import Image
from torch import nn

from astro.checkpoint.card import ModelCard, PosthocSteps, Preprocessing, TrainingRecord
from astro.checkpoint.io import Checkpoint, load_checkpoint
from astro.data.galaxy10 import CLASS_NAMES
from astro.data.images import MAX_SIDE, load_image
from astro.data.synthetic import render
from astro.data.transforms import resize_batch
from astro.errors import CheckpointError, ImageError
from astro.models.astro_cnn import AstroCNN
from astro.serving.classifier import Classifier
from astro.serving.gradcam import cam_layer, explain, grad_cam
from astro.serving.source import provenance, resolve
from astro.tracking.store import store_exists

SIZE = 32


MODEL = {"_target_": "astro.models.astro_cnn.AstroCNN"}


def card(posthoc: PosthocSteps | None = None) -> ModelCard:
    return ModelCard(
        class_names=CLASS_NAMES,
        preprocessing=Preprocessing(SIZE, "bilinear", (0.1, 0.12, 0.14), (0.2, 0.2, 0.22)),
        model=MODEL,
        posthoc=posthoc or PosthocSteps(),
        training=TrainingRecord(run_id=None, data_name="none", epoch=0),
        config={"model": MODEL},
    )


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """An untrained AstroCNN: every check below is about the plumbing, not about accuracy."""
    torch.manual_seed(0)
    return Classifier(Checkpoint(card(), AstroCNN(num_classes=10).state_dict()))


@pytest.fixture(scope="module")
def galaxy() -> Image.Image:
    return Image.fromarray(render(5, np.random.default_rng(3)))


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def assert_distribution(probs: dict[str, float]) -> None:
    assert list(probs) == list(CLASS_NAMES)
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


def test_preprocessing_matches_the_training_cache(classifier, galaxy):
    x = classifier.preprocess(galaxy)
    assert x.shape == (1, 3, SIZE, SIZE) and x.dtype == torch.uint8
    cached = resize_batch(torch.from_numpy(np.asarray(galaxy).copy()).unsqueeze(0), SIZE, "bilinear")
    assert torch.equal(x, cached)


@pytest.mark.parametrize("tta", [False, True])
def test_predict_returns_all_classes_summing_to_one(classifier, galaxy, tta):
    assert_distribution(classifier.predict(galaxy, tta=tta))


@pytest.mark.parametrize(
    "transform",
    [
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_180,
        Image.Transpose.FLIP_LEFT_RIGHT,
        Image.Transpose.TRANSPOSE,
    ],
)
def test_tta_is_invariant_to_rotations_and_flips(classifier, galaxy, transform):
    """Up to the resize's rounding: the uint8 kernel resizes rows then columns, rounding in between,
    so a turned upload can differ by one level in some pixels before the 8 views are averaged."""
    reference = classifier.predict(galaxy, tta=True)
    turned = classifier.predict(galaxy.transpose(transform), tta=True)
    assert turned == pytest.approx(reference, abs=1e-5)  # seen: at most 2e-6
    single = classifier.predict(galaxy.transpose(transform), tta=False)
    assert single != pytest.approx(classifier.predict(galaxy, tta=False), abs=1e-6)


def test_tta_is_the_mean_of_the_eight_single_views(classifier, galaxy):
    """Views of the resized image, so the same as turning the upload up to the resize's rounding."""
    views = [galaxy, *(galaxy.transpose(t) for t in Image.Transpose)]
    assert len(views) == 8
    mean = np.mean([list(classifier.predict(v).values()) for v in views], axis=0)
    assert list(classifier.predict(galaxy, tta=True).values()) == pytest.approx(mean.tolist(), abs=1e-5)


def test_the_checkpoints_temperature_and_logit_adjustment_are_applied(classifier, galaxy):
    raw = np.array(list(classifier.predict(galaxy).values()))
    prior = np.linspace(1.0, 3.0, 10) / np.linspace(1.0, 3.0, 10).sum()
    steps = PosthocSteps(tau=1.0, prior=tuple(prior), temperature=0.5)
    tuned = Classifier(Checkpoint(card(steps), classifier.model.state_dict()))
    expected = (raw / prior) ** 2  # p * prior^-tau, then softmax(log p / T) = p^(1/T), renormalised
    assert list(tuned.predict(galaxy).values()) == pytest.approx((expected / expected.sum()).tolist())


def test_only_the_centre_square_is_seen(classifier, galaxy):
    wide = Image.new("RGB", (400, 256), (255, 0, 0))
    wide.paste(galaxy, (72, 0))
    assert classifier.predict(wide) == pytest.approx(classifier.predict(galaxy), abs=1e-6)


def test_colour_modes_become_8bit_rgb(classifier, galaxy):
    grey = galaxy.convert("L")
    sixteen = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    assert Image.open(io.BytesIO(png_bytes(sixteen))).mode.startswith("I")
    assert classifier.predict(png_bytes(sixteen)) == pytest.approx(classifier.predict(grey), abs=1e-6)
    transparent = Image.new("RGBA", galaxy.size, (255, 255, 255, 0))
    black = Image.new("RGB", galaxy.size)
    assert classifier.predict(png_bytes(transparent)) == pytest.approx(classifier.predict(black), abs=1e-6)
    for image in (
        galaxy.convert("P"),
        galaxy.convert("CMYK"),
        grey.convert("1"),
        galaxy.convert("LA"),
    ):
        decoded = load_image(png_bytes(image, format="TIFF" if image.mode == "CMYK" else "PNG"))
        assert decoded.mode == "RGB" and decoded.size == galaxy.size
        assert_distribution(classifier.predict(decoded))
    assert_distribution(classifier.predict(png_bytes(galaxy.convert("CMYK"), format="JPEG")))
    values = np.asarray(grey, dtype=np.float32)
    stretched = (values - values.min()) / (values.max() - values.min()) * 255  # float images: min-max
    decoded = load_image(png_bytes(Image.fromarray(values * 0.01 - 0.5), format="TIFF"))
    assert np.abs(np.asarray(decoded)[..., 0] - stretched).max() <= 0.5 + 1e-3


def test_huge_inputs_are_reduced_before_the_heavy_work(classifier):
    big = Image.radial_gradient("L").resize((4400, 3000)).convert("RGB")
    for encoded in (png_bytes(big), png_bytes(big, format="JPEG", quality=80)):
        reduced = load_image(encoded)
        assert 1024 <= min(reduced.size) < 2048
        assert reduced.size[0] / reduced.size[1] == pytest.approx(4400 / 3000, rel=0.01)
        assert_distribution(classifier.predict(encoded))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: b"GIF89 this is not an image at all" * 20, "not an image"),
        (lambda: png_bytes(Image.new("RGB", (1, 1))), "1x1 pixels: too small"),
        (lambda: png_bytes(Image.new("L", (10000, 10000))), "10000x10000 pixels: too large"),
        (lambda: png_bytes(Image.new("RGB", (300, 300), (9, 9, 9)))[:200], "damaged or truncated"),
        (lambda: png_bytes(Image.new("RGB", (4000, 12))), "4000x12 pixels: too small"),
    ],
    ids=["not-an-image", "1x1", "10000x10000", "truncated", "sliver"],
)
def test_bad_uploads_give_a_clear_error(classifier, upload, message):
    with pytest.raises(ImageError, match=message):
        classifier.predict(upload())


def test_limits_are_named_in_the_message(classifier):
    with pytest.raises(ImageError, match=f"the limit is {MAX_SIDE} pixels per side"):
        classifier.predict(png_bytes(Image.new("L", (MAX_SIDE + 1, 64))))
    with pytest.raises(ImageError, match="file not found"):
        classifier.predict("/nonexistent/galaxy.png")


def test_grad_cam_overlay_has_the_input_size_and_dims_the_unseen_border(classifier, galaxy):
    wide = Image.new("RGB", (300, 200), (200, 200, 200))
    wide.paste(galaxy.resize((200, 200)), (50, 0))
    overlay = explain(classifier, wide, "barred_spiral")
    assert overlay.mode == "RGB" and overlay.size == (300, 200)
    assert np.asarray(overlay)[:, :50].max() <= 0.35 * 200 + 1
    assert np.asarray(explain(classifier, galaxy, "merging")).shape == (256, 256, 3)


def test_grad_cam_map_for_astrocnn_and_resnet(classifier):
    x = torch.randn(1, 3, SIZE, SIZE)
    cam = grad_cam(classifier.model, cam_layer(classifier.model), x, 0)
    assert cam.shape == (SIZE // 8, SIZE // 8) and cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    assert all(p.grad is None for p in classifier.model.parameters())
    resnet = torchvision.models.resnet18(num_classes=10).eval()
    assert cam_layer(resnet) is resnet.layer4
    assert grad_cam(resnet, resnet.layer4, torch.randn(1, 3, 64, 64), 3).shape == (2, 2)


class Brightness(nn.Module):
    """Logit 0 grows with the image's mean brightness, logit 1 shrinks with it: evidence is where light is."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 1, 1), nn.ReLU())
        self.head = nn.Linear(1, 2)
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
            self.features[0].bias.zero_()
            self.head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def test_grad_cam_points_at_the_evidence():
    model = Brightness().eval()
    x = torch.zeros(1, 3, 16, 16)
    x[..., 2:6, 10:14] = 1.0
    cam = grad_cam(model, cam_layer(model), x, 0)
    assert cam[2:6, 10:14].min() == pytest.approx(1.0) and cam.sum() == pytest.approx(16.0)
    assert grad_cam(model, cam_layer(model), x, 1).max() == 0.0  # no positive evidence for class 1


# --- checkpoints and MLflow (a real `train.py debug=smoke` run) ---


@pytest.mark.slow
def test_classifier_from_a_trained_checkpoint(smoke_model, galaxy):
    written = load_checkpoint(smoke_model["checkpoint"]).card
    classifier = Classifier.from_checkpoint(smoke_model["checkpoint"])
    assert classifier.preprocessing.image_size == written.preprocessing.image_size == 32
    assert not classifier.model.training
    x = classifier.preprocess(galaxy)
    mean, std = (
        torch.tensor(v).view(1, 3, 1, 1) for v in (written.preprocessing.mean, written.preprocessing.std)
    )
    assert torch.allclose(classifier.normalize(x), (x / 255.0 - mean) / std, atol=1e-5)
    assert_distribution(classifier.predict(galaxy, tta=True))
    assert classifier.card.posthoc == written.posthoc and written.posthoc.temperature > 0


@pytest.mark.slow
def test_resolve_path_run_uri_registered_model_and_newest_finished_run(smoke_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's fallback store would be ./mlflow.db: none may appear
    uri, checkpoint = smoke_model["uri"], smoke_model["checkpoint"]
    run_id = load_checkpoint(checkpoint).card.training.run_id
    weights = load_checkpoint(checkpoint).weights

    def same_weights(path: Path) -> bool:
        state = load_checkpoint(path).weights
        return all(torch.equal(state[k], weights[k]) for k in weights)

    assert resolve(str(checkpoint), uri).path == checkpoint
    assert same_weights(resolve(f"runs:/{run_id}/checkpoints/best.pt", uri).path)
    newest = resolve(None, uri)
    assert same_weights(newest.path) and run_id in newest.description

    # A copy of the store: register the model, then add newer runs that must not be picked.
    db = tmp_path / "copy.db"
    shutil.copy(str(uri).removeprefix("sqlite:///"), db)
    copy_uri = f"sqlite:///{db}"
    client = MlflowClient(copy_uri)
    client.create_registered_model("galaxy-smoke")
    source = f"{client.get_run(run_id).info.artifact_uri}/checkpoints"
    client.create_model_version("galaxy-smoke", source, run_id=run_id)
    client.set_registered_model_alias("galaxy-smoke", "champion", "1")
    assert same_weights(resolve("models:/galaxy-smoke/1", copy_uri).path)
    assert same_weights(resolve("models:/galaxy-smoke@champion", copy_uri).path)
    assert not (tmp_path / "mlflow.db").exists()
    experiment = client.get_experiment_by_name("astro-debug").experiment_id
    failed = client.create_run(experiment)
    client.log_artifact(failed.info.run_id, str(checkpoint), "checkpoints")
    client.set_terminated(failed.info.run_id, "FAILED")
    unrelated = client.create_run(experiment)
    client.set_terminated(unrelated.info.run_id, "FINISHED")
    assert run_id in resolve(None, copy_uri).description


@pytest.mark.slow
def test_provenance_names_the_run_its_test_score_and_data(smoke_model):
    written = load_checkpoint(smoke_model["checkpoint"]).card
    run_id = written.training.run_id
    about = provenance(written, "best.pt", smoke_model["uri"])
    test_f1 = MlflowClient(smoke_model["uri"]).get_run(run_id).data.metrics["test/macro_f1"]
    assert about.run_id == run_id and about.test_macro_f1 == pytest.approx(test_f1)
    assert about.data_name == "synthetic" and about.image_size == 32 and about.architecture == "AstroCNN"
    text = about.markdown()
    assert run_id in text and f"{test_f1:.3f}" in text and "synthetic" in text
    assert f"T = {written.posthoc.temperature:.2f}" in text


def test_bad_references_are_one_clear_sentence(tmp_path):
    uri = f"sqlite:///{tmp_path / 'nothing.db'}"
    assert resolve(None, uri) is None and not store_exists(uri)
    assert not (tmp_path / "nothing.db").exists()
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        resolve(str(tmp_path / "missing.pt"), uri)
    (tmp_path / "fake.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        Classifier.from_checkpoint(tmp_path / "fake.pt")


@pytest.mark.slow
def test_unknown_mlflow_references_are_one_clear_sentence(smoke_model):
    unknown_run = "runs:/0123456789abcdef/checkpoints/best.pt"
    with pytest.raises(CheckpointError, match=re.escape(f"{unknown_run}: cannot fetch")):
        resolve(unknown_run, smoke_model["uri"])
    with pytest.raises(CheckpointError, match="models:/no-such-model/1: cannot fetch"):
        resolve("models:/no-such-model/1", smoke_model["uri"])
