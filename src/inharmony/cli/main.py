"""``inharmony`` console script: ``main(argv=None) -> int``; heavy imports happen inside the commands."""

from __future__ import annotations

import argparse
import logging
import sys

from inharmony import __version__
from inharmony.cli import data_cmd, engine_cmd


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit status 2."""


EXTRAS = {
    "train": (
        "torch",
        "torchvision",
        "safetensors",
        "kornia",
        "skimage",
        "scipy",
        "segmentation_models_pytorch",
        "timm",
    ),
    "onnx": ("onnx", "onnxscript"),
    "plots": ("matplotlib",),
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The optional extra that provides the missing module, or None for any other module."""
    root = (exc.name or "").split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if root in modules), None)


def is_expected(exc: BaseException) -> bool:
    """Failures a user can act on from one line: bad input, missing files, a full disk, a stopped run."""
    if type(exc).__name__ == "TrainingError":  # inharmony.engine.trainer, not imported here (it needs torch)
        return True
    return isinstance(exc, (FileNotFoundError, ValueError, CommandError, PermissionError)) or (
        isinstance(exc, OSError) and exc.errno is not None
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inharmony", description="Find the inharmonious region of a composite photo (DIRL, ICME 2021)."
    )
    parser.add_argument("--version", action="version", version=f"inharmony {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_cmd.register(sub)
    engine_cmd.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.handler(args) or 0)
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if args.verbose or extra is None:
            raise
        print(
            f"inharmony {args.command}: error: this needs {exc.name!r}: pip install 'inharmony[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # noqa: BLE001 - expected failures get one line; -v shows the traceback
        if args.verbose or not is_expected(exc):
            raise
        print(f"inharmony {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"inharmony {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
