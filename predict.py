"""Label a catalogue: python predict.py checkpoint=REF input=<folder | manifest.csv | file.h5> output=FILE.

Writes one row per image (id, P(class) for every class, top class, calibrated confidence, error) to
Parquet or CSV; resumable, shardable over machines (shard=i num_shards=N). See docs/prediction.md.
"""

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from astro.adaptation.batchnorm import adapt_batchnorm
from astro.checkpoint.io import load_checkpoint
from astro.cli import user_errors_as_one_line
from astro.config.compat import VERSION_BASE, with_allowed_targets
from astro.config.schema import Adapt, register_configs
from astro.data.catalogue import open_catalogue
from astro.data.transforms import Normalize
from astro.device import resolve_device
from astro.errors import CheckpointError, ConfigError
from astro.prediction.adaptation import adaptation_set
from astro.prediction.batch import Settings, checkpoint_digest, label_catalogue
from astro.prediction.shards import shard_bounds, shard_output
from astro.prediction.table import ChunkStore, Identity
from astro.serving.source import resolve

log = logging.getLogger("astro.predict")


def check(cfg: DictConfig) -> None:
    """Every setting checked before anything is loaded, each failure one sentence naming the key."""
    for key, example in (
        ("input", "an image folder, a manifest .csv or an .h5 file"),
        ("output", "labels.parquet"),
    ):
        if OmegaConf.is_missing(cfg, key):
            raise ConfigError(f"no {key} given: pass {key}=... ({example})")
    for key in ("batch_size", "chunk_size"):
        if int(cfg[key]) < 1:
            raise ConfigError(f"{key}={cfg[key]} must be a positive integer")
    if cfg.adapt_samples < 2:
        raise ConfigError(
            f"adapt_samples={cfg.adapt_samples} must be at least 2 (BatchNorm needs a variance)"
        )
    if cfg.workers is not None and cfg.workers < 1:
        raise ConfigError(f"workers={cfg.workers} must be a positive integer (or null: the cores, at most 8)")
    if not 0 < float(cfg.field) <= 1:
        raise ConfigError(f"field={cfg.field:g} must be in (0, 1]: the centre fraction of each image kept")
    if not 0 <= float(cfg.max_bad_fraction) < 1:
        raise ConfigError(f"max_bad_fraction={cfg.max_bad_fraction:g} must be in [0, 1)")
    shard_bounds(0, int(cfg.shard), int(cfg.num_shards))
    if cfg.num_shards > 1 and cfg.format != "parquet":
        raise ConfigError(
            "sharded runs write Parquet (the merge checks its metadata): drop format=csv and merge "
            "with `python -m astro merge-shards OUTPUT --to labels.csv`"
        )


def predict_catalogue(cfg: DictConfig) -> Path:
    """Resolve the checkpoint, open the input, take this shard's rows, label them; return the output."""
    check(cfg)
    source = resolve(cfg.checkpoint, cfg.tracking.uri)
    if source is None:
        raise CheckpointError(f"no checkpoint given and no finished training run in {cfg.tracking.uri}")
    checkpoint = load_checkpoint(source.path)
    preprocessing = checkpoint.card.preprocessing
    catalogue = open_catalogue(cfg.input, preprocessing, cfg.workers, float(cfg.field))
    adaptation = None
    if cfg.adapt == Adapt.bn:
        adaptation = adaptation_set(
            cfg.adapt_on, catalogue, preprocessing, cfg.adapt_samples, cfg.adapt_seed, cfg.workers, cfg.field
        )
    start, stop = shard_bounds(len(catalogue), cfg.shard, cfg.num_shards)
    output = shard_output(Path(cfg.output).expanduser().resolve(), cfg.shard, cfg.num_shards)
    identity = Identity(
        checkpoint_digest=checkpoint_digest(checkpoint),
        checkpoint=source.description,
        class_names=checkpoint.card.class_names,
        input=str(cfg.input),
        input_fingerprint=catalogue.fingerprint(),
        input_rows=len(catalogue),
        shard=int(cfg.shard),
        num_shards=int(cfg.num_shards),
        start=start,
        stop=stop,
        tta=bool(cfg.tta),
        chunk_size=int(cfg.chunk_size),
        field=float(cfg.field),
        adapt=str(cfg.adapt),
        adapt_fingerprint=adaptation.fingerprint() if adaptation else "",
    )
    store = ChunkStore(output, cfg.format)
    done = store.prepare(identity, bool(cfg.overwrite))
    if done is None:
        log.info("%s is already complete for this checkpoint and input: nothing to do", output)
        return output
    if done:
        log.info("resuming %s after %d finished chunk(s)", output, done)
    device = resolve_device(cfg.device)
    model = checkpoint.model().to(device)
    if adaptation is not None:
        normalize = Normalize(preprocessing.mean, preprocessing.std)
        seen = adapt_batchnorm(model, adaptation.batches(cfg.batch_size, normalize, device))
        log.info("adapt=bn: BatchNorm statistics re-estimated on %d images of %s", seen, adaptation.source)
    settings = Settings(cfg.batch_size, cfg.chunk_size, cfg.tta, cfg.max_bad_fraction, cfg.progress)
    summary = label_catalogue(checkpoint, model, catalogue, store, identity, settings, device, done)
    store.finish()
    log.info(
        "%d rows (%d unreadable) of %s by %s -> %s (%.1f images/s)",
        summary.rows,
        summary.bad,
        cfg.input,
        source.description,
        output,
        summary.images_per_second,
    )
    return output


register_configs()  # the schemas and resolvers Hydra composes this app with


@with_allowed_targets
@hydra.main(config_path="conf", config_name="predict", **VERSION_BASE)
@with_allowed_targets
@user_errors_as_one_line
def main(cfg: DictConfig) -> None:
    predict_catalogue(cfg)


if __name__ == "__main__":
    main()
