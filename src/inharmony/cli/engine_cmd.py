"""``inharmony train | evaluate | predict | models`` (filled in by the engine)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the available models")
    p.set_defaults(handler=run_models)


def run_models(args: argparse.Namespace) -> int:
    from inharmony.models import describe_model, list_models

    for name in list_models():
        print(f"{name:20s} {describe_model(name)}")
    return 0
