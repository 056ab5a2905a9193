"""The models-from-code file of a run's MLflow model: MLflow copies this file into the model and runs it
when the model is loaded (mlflow.pyfunc.load_model, `mlflow models serve`); set_model names the model.
It needs astro installed (the model's requirements say which version)."""

from mlflow.models import set_model

from astro.serving.pyfunc import GalaxyMorphologyModel

set_model(GalaxyMorphologyModel())
