"""The ``inharmony`` console script."""
