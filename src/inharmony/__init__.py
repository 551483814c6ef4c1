"""inharmony: inharmonious region localization (DIRL) in PyTorch.

Heavy modules load on first use, so ``import inharmony`` and ``inharmony --help`` stay instant.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "create_model", "list_models", "Predictor"]


def __getattr__(name: str):
    if name in ("create_model", "list_models"):
        from inharmony import models

        return getattr(models, name)
    if name == "Predictor":
        from inharmony.inference import Predictor

        return Predictor
    raise AttributeError(f"module 'inharmony' has no attribute {name!r}")
