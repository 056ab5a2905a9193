"""MLflow tracking: the run tracker, the store, dataset inputs, tag names, offline sync, the sweep
hand-off."""
