"""One inference wrapper shared by the CLI, the Python API and the web app."""

from inharmony.inference.predictor import Prediction, Predictor, resolve_model_path

__all__ = ["Prediction", "Predictor", "resolve_model_path"]
