"""inharmony: inharmonious region localization (DIRL) in PyTorch."""

__version__ = "0.1.0"

from inharmony.models import create_model, list_models  # noqa: E402

__all__ = ["__version__", "create_model", "list_models"]
