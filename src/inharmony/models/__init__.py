"""Whole networks and the model registry."""

from inharmony.models.dirl import DIRL
from inharmony.models.registry import (
    create_model,
    describe_model,
    list_models,
    model_config,
    register_model,
    standalone_models,
)

__all__ = [
    "DIRL",
    "create_model",
    "describe_model",
    "list_models",
    "model_config",
    "register_model",
    "standalone_models",
]
