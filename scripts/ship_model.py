"""Package a trained run's best model as the shipped default (fp16 safetensors, ≤ 30 MB).

Usage:
  python scripts/ship_model.py --run runs/default_model/version_0 [--size 224] [--scores EVAL_DIR]
      [--out src/inharmony/weights/default.safetensors]

--scores reads EVAL_DIR/results.json (written by `inharmony evaluate --model FILE --data ... --out EVAL_DIR` for the
file to ship) and stores each set's overall figures in the file's metadata, which `inharmony models` prints. The
weights are not changed by adding scores. From a training state (RUN/last.pt) of a run with train.ema_decay, the
averaged weights are shipped (--raw: the trained weights of the last step instead). --flip-test ships a model that
averages each image with its mirror image (twice the inference cost; the ONNX export then holds both passes).
--start FILE --alpha A ships the weight-space interpolation (1 - A) · START + A · MODEL of the fine-tune with the
weights it started from (WiSE-FT; inharmony.checkpoint.interpolate_models). --soup FILE [FILE ...] ships the
equal-weight average of those files and the model file (a model soup of states that share one start;
inharmony.checkpoint.average_models). --ensemble FILE [FILE ...] ships those files and the model as one model
whose pixel probabilities are combined in output space (--combine mean|logit_mean|max, --weights W... the members'
shares, the --ensemble files first; each member keeps its
weights, at the sum of their costs; inharmony.checkpoint.ensemble_models); --flip-test then sets every member's
mirror pass, and without it every member runs once; --mask-member I keeps member I's mask alone and lets the
others add only to the image-level verdict (per-image AP stays member I's). --shift-test N (pixels) adds a view of
each image moved by N pixels down and right (its edges mirrored), averaged with the others moved back (twice the
cost again; single models only). --scale-test F [F ...] adds every view again with the image resized by
each factor F (to a multiple of 32 pixels), its answers resized back and averaged with the others' (single models
only); --scale-use mask|verdict keeps only their masks or only their verdicts.
--shared-encoder (with --ensemble) runs the first member's encoder once for every
member: fine-tunes whose encoder did not learn cost one encoder plus their decoders.
"""

import argparse
import json
from pathlib import Path

from inharmony.checkpoint import (
    CheckpointError,
    average_models,
    ensemble_models,
    interpolate_models,
    load_model,
    save_model,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", required=True, help="training run folder with best.safetensors and metrics.jsonl")
    parser.add_argument(
        "--model", help="model file to ship (default: RUN/best.safetensors); RUN/last.pt takes the run's latest weights"
    )
    parser.add_argument("--raw", action="store_true", help="from last.pt: the last step's weights, not their average")
    parser.add_argument("--size", type=int, help="inference size stored with the model (default: training size)")
    parser.add_argument("--scores", help="evaluation folder of the shipped file")
    parser.add_argument("--label", help="the shipped file's model label in --scores (needed when it has several)")
    parser.add_argument(
        "--flip-test",
        action=argparse.BooleanOptionalAction,
        help="the shipped model averages each image with its mirror (2x cost); --no-flip-test: it does not "
        "(default: as the model file has it)",
    )
    parser.add_argument(
        "--shift-test",
        type=int,
        default=0,
        metavar="N",
        help="the shipped model also runs each image moved by N pixels and averages the answers (2x cost)",
    )
    parser.add_argument(
        "--scale-test",
        type=float,
        nargs="+",
        metavar="F",
        help="the shipped model also runs each image resized by each factor F and averages the answers resized back",
    )
    parser.add_argument(
        "--scale-use",
        choices=("both", "mask", "verdict"),
        help="with --scale-test: what the other scales add to the answer (default both)",
    )
    parser.add_argument("--start", help="the weights the run started from: ship an interpolation with them")
    parser.add_argument("--alpha", type=float, help="with --start: the fine-tune's share of the weights, in [0, 1]")
    parser.add_argument(
        "--soup", nargs="+", metavar="FILE", help="ship the equal average of these model files and the model"
    )
    parser.add_argument(
        "--ensemble", nargs="+", metavar="FILE", help="ship these model files and the model combined in output space"
    )
    parser.add_argument(
        "--combine", choices=("mean", "logit_mean", "max"), default="mean", help="with --ensemble: how (mean)"
    )
    parser.add_argument(
        "--weights",
        nargs="+",
        type=float,
        metavar="W",
        help="with --ensemble: one share per member, the --ensemble files first and the model last (default equal)",
    )
    parser.add_argument(
        "--mask-member",
        type=int,
        metavar="I",
        help="with --ensemble: the member (index: the --ensemble files, then the model) whose mask the ensemble "
        "keeps; the others only add to the image-level verdict",
    )
    parser.add_argument(
        "--shared-encoder",
        action="store_true",
        help="with --ensemble: run the first member's encoder once for all (fine-tunes whose encoder did not learn; "
        "every member's encoder must equal it)",
    )
    parser.add_argument("--out", default="src/inharmony/weights/default.safetensors")
    args = parser.parse_args()
    if (args.start is None) != (args.alpha is None):
        parser.error("--start and --alpha go together")
    run = Path(args.run)
    source = Path(args.model) if args.model else run / "best.safetensors"
    if sum(bool(x) for x in (args.start, args.soup, args.ensemble)) > 1:
        parser.error("--start, --soup and --ensemble are three ways of mixing: use one")
    if args.weights and not args.ensemble:
        parser.error("--weights are the shares of --ensemble members")
    if args.weights and len(args.weights) != len(args.ensemble) + 1:
        parser.error(f"--weights: one per member ({len(args.ensemble) + 1}: the --ensemble files, then the model)")
    if args.mask_member is not None and not args.ensemble:
        parser.error("--mask-member picks one of the --ensemble members")
    if args.shared_encoder and not args.ensemble:
        parser.error("--shared-encoder is for --ensemble members")
    if args.scale_use and not args.scale_test:
        parser.error("--scale-use says what the --scale-test views add: give --scale-test too")
    if (args.shift_test or args.scale_test) and args.ensemble:
        parser.error("--shift-test and --scale-test are for single models: ship each member with it, then combine")
    if (args.start or args.soup or args.ensemble) and source.suffix == ".pt":
        parser.error(
            "--start/--soup/--ensemble mix model files (.safetensors): ship the training state first, then mix"
        )
    if source.suffix == ".pt":  # a training state: the latest weights, with the run's model config
        import yaml

        from inharmony.models import create_model

        cfg = yaml.safe_load((run / "config.yaml").read_text())
        from inharmony.engine.state_files import load_state_files

        state = load_state_files(source, map_location="cpu")
        model = create_model(cfg["model"]["name"])
        weights, averaged = state["model"], bool(state.get("ema")) and not args.raw
        if averaged:  # AveragedModel's state: the module's weights under "module.", and its count
            weights = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
        model.load_state_dict(weights, strict=True)
        model.model_info = {"size": cfg["data"]["size"], "step": state["global_step"], "epoch": state["epoch"]}
        model.model_info["weights"] = "exponential moving average" if averaged else "last step"
    elif args.start:
        model = interpolate_models(args.start, source, args.alpha)
    elif args.soup:
        model = average_models([*args.soup, source])
    elif args.ensemble:
        model = ensemble_models(
            [*args.ensemble, source],
            weights=args.weights,
            combine=args.combine,
            flip_test=bool(args.flip_test),
            mask_member=args.mask_member,
            shared_encoder=args.shared_encoder,
        )
    else:
        model = load_model(source)
    options = {} if args.flip_test is None else {"flip_test": args.flip_test}
    options |= {"shift_test": args.shift_test} if args.shift_test else {}
    if args.scale_test:
        options["scale_test"] = args.scale_test[0] if len(args.scale_test) == 1 else args.scale_test
    options |= {"scale_use": args.scale_use} if args.scale_use else {}
    changed = {k: v for k, v in options.items() if model.model_config.get(k) != v}
    if changed and not args.ensemble:  # the same weights in a model built with the test-time options on
        from inharmony.models import create_model

        viewed = create_model(model.model_name, **{**model.model_config, **changed})
        viewed.load_state_dict(model.state_dict(), strict=True)
        # the figures and the calibration measured with other test-time views are not this model's
        viewed.model_info = {k: v for k, v in model.model_info.items() if k not in ("scores", "calibration")}
        model = viewed
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    info = dict(model.model_info)
    info["size"] = args.size or info.get("size", 256)
    info["training"] = {
        "config": str(run / "config.yaml"),
        "epochs": rows[-1]["epoch"],
        "steps": rows[-1]["step"],
        "images_per_s": [r.get("images_per_s") for r in rows],
        "val": {k: v for k, v in rows[-1].items() if k.startswith("val_")},
        "hardware": "2-core x86-64 CPU (no GPU), torch 2.14.1",
    }
    info.pop("run", None)
    if args.scores:
        summary = json.loads((Path(args.scores) / "results.json").read_text())["summary"]
        labels = sorted({s["model"] for s in summary})
        label = args.label or (labels[0] if len(labels) == 1 else None)
        if label not in labels:
            raise SystemExit(f"--scores {args.scores} holds models {labels}: name the shipped one with --label")
        info["scores"] = {
            s["set"]: {k: round(v, 4) for k, v in s.items() if isinstance(v, float) and v == v}
            for s in summary
            if s["group"] == "overall" and s["model"] == label
        }
    else:
        info.setdefault("scores", {})
    out = save_model(model, args.out, half=True, info=info)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB; info {json.dumps(info)[:300]}")


if __name__ == "__main__":
    try:
        main()
    except CheckpointError as error:  # files that do not fit together: say which, without a traceback
        raise SystemExit(f"ship_model.py: {error}") from None
