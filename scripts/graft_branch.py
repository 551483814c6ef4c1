"""Graft a branch trained alone into the model that carries it: the base model's weights, then the branch's.

Usage:
  python scripts/graft_branch.py --base checkpoints/default_v2/weights.safetensors \\
      --branch runs/colour_net/version_0/best.safetensors --out runs/grafted.safetensors \\
      [--model dirl_mobilenetv2_verdict_unet] [--prefix colour_unet.]

The result starts a training run (model.init); the branch's own head is not grafted (the carrier's correction
head starts at zero, so the grafted model answers as the base until it has trained).
"""

import argparse

from inharmony.checkpoint import graft_weights, save_model
from inharmony.engine.trainer import warm_start
from inharmony.models import create_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="model file of the carrier's other weights")
    parser.add_argument("--branch", required=True, help="model file of the branch trained alone")
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="dirl_mobilenetv2_verdict_unet")
    parser.add_argument("--prefix", default="colour_unet.")
    args = parser.parse_args()
    model = create_model(args.model)
    warm_start(model, args.base)
    grafted = graft_weights(model, args.branch, args.prefix)
    save_model(model, args.out, info={"base": args.base, "branch": args.branch})
    print(f"{args.out}: {args.model} with {len(grafted)} {args.prefix}* weights from {args.branch}")


if __name__ == "__main__":
    main()
