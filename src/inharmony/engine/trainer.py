"""The training loop: CPU, one GPU (mixed precision) or many processes under torchrun (DDP).

Each epoch's sample order and augmentations depend only on ``(seed, epoch, index)``, so a run resumed
from ``last.pt`` (written atomically every epoch and every ``checkpoint_every`` steps) continues
exactly where it stopped. The best model by validation IoU (or ``train.select``) is saved as ``best.safetensors``.

With ``train.ema_decay`` (e.g. 0.999) an exponential moving average of the weights and BatchNorm statistics
(torch's ``AveragedModel``) is kept beside the trained weights, saved in ``last.pt`` and is what validation
measures and ``best.safetensors`` holds: with batches of 8 the weights of one step are noisy, and an average over
the last ~1/(1 − decay) steps is a steadier model to evaluate and ship.

With ``train.anchor_decay`` every weight that ``model.init`` gave is pulled back toward its starting value after
each step (``w ← w + lr · anchor_decay · (w₀ − w)``, weight decay toward the start as in L2-SP, decoupled from Adam
as in AdamW): a fine-tune that stays near a model known to work, instead of averaging with it afterwards. With
``train.feature_anchor`` a learning encoder is held near what its start computes instead (engine/feature_anchor.py).
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, DistributedSampler

from inharmony.checkpoint import graft_weights, save_model
from inharmony.engine import distributed
from inharmony.engine.data import build_datasets
from inharmony.engine.evaluate import evaluate
from inharmony.engine.feature_anchor import FeatureAnchor
from inharmony.engine.state_files import load_state_files, save_state_files
from inharmony.engine.train_scales import check_scales, rescaled_batch
from inharmony.fileio import write_text_atomic
from inharmony.inference.predictor import resolve_model_path
from inharmony.losses import DIRLLoss, colour_shift_loss, region_verdict_loss
from inharmony.models import create_model

log = logging.getLogger(__name__)
STATE_VERSION = 1


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the message says where and what to do."""


def epoch_indices(n: int, epoch: int, seed: int, info: distributed.DistInfo, group: int = 1) -> list[int]:
    """This process's sample order for ``epoch`` (DistributedSampler's when distributed). With ``group`` > 1,
    groups of consecutive indices (a composite and its authentic twin) are shuffled as units and stay together."""
    groups = n // group
    if info.enabled:
        sampler = DistributedSampler(range(groups), info.world_size, info.rank, shuffle=True, seed=seed, drop_last=True)
        sampler.set_epoch(epoch)
        order = list(sampler)
    else:
        order = torch.randperm(groups, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    return [g * group + k for g in order for k in range(group)]


MAX_AUTO_WORKERS = 16  # on-the-fly composites cost a core each at ~40 samples/s: a GPU needs many of them


def loader_workers(setting: int | str, cores: int | None = None, local_processes: int | None = None) -> int:
    """``train.workers``: a number, or ``"auto"``: this process's share of the cores (torchrun's
    ``LOCAL_WORLD_SIZE`` processes share them) less one for the process that trains, at most 16."""
    if setting == "auto":
        cores = cores or os.cpu_count() or 1
        local = local_processes or int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        return max(0, min(MAX_AUTO_WORKERS, cores // max(1, local) - 1))
    return int(setting)


NEW_BRANCHES = (
    "colour_stream.",
    "colour_head.",
    "colour_unet.",
    "colour_unet_head.",
    "colour_unet_mix",
    "verdict_head.",
    "shift_head.",
    "colour_mapper.",
    "relative_head.",
    "relative_mix",
    "verdict_lowlevel.",
)  # may start from scratch


def warm_start(model: nn.Module, path: str | Path) -> list[str]:
    """Load a model file's weights into ``model`` before training. The architectures must match, except that a
    model with a colour stream, a verdict head or a colour mapper may start from the same model without them
    (they then start from scratch)."""
    from inharmony.checkpoint import read_model_file

    meta, state = read_model_file(resolve_model_path(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    new = [k for k in missing if not k.startswith(NEW_BRANCHES)]
    if unexpected or new:
        raise TrainingError(
            f"model.init {path} holds a {meta['model_name']!r} model that does not fit {model.model_name!r}: "
            f"{len(new)} missing, {len(unexpected)} unexpected weights (e.g. {(new + unexpected)[:3]})"
        )
    log.info("warm start from %s (%d new weights start from scratch)", path, len(missing))
    return list(missing)


class Trainer:
    """Train the model a config describes, writing everything into ``run_dir``."""

    def __init__(self, cfg: dict, run_dir: str | Path) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        t = cfg["train"]
        self.dist, self.device = distributed.setup(t["device"])
        torch.manual_seed(t["seed"])
        self.model = create_model(cfg["model"]["name"], encoder_weights=cfg["model"]["encoder_weights"])
        fresh = warm_start(self.model, cfg["model"]["init"]) if cfg["model"]["init"] else []
        if fresh and hasattr(self.model, "fill_fresh"):  # e.g. the verdict's own copy of the encoder's first stages
            fresh = self.model.fill_fresh(fresh)
        for prefix, path in (cfg["model"]["graft"] or {}).items():  # pretrained alone: not fresh any more
            grafted = set(graft_weights(self.model, resolve_model_path(path), prefix))
            log.info("grafted %d %s* weights from %s", len(grafted), prefix, path)
            fresh = [k for k in fresh if k not in grafted]
        self.model = self.model.to(self.device)
        self.train_set, self.val_set = build_datasets(cfg)
        self.criterion = DIRLLoss(
            lambda_att=cfg["loss"]["lambda_att"],
            ssim=cfg["loss"]["ssim"],
            iou=cfg["loss"]["iou"],
            lambda_verdict=cfg["loss"]["verdict"],
            lambda_pair=cfg["loss"]["pair"],
            lambda_dense=cfg["loss"]["dense_pair"],
        )
        # one learning rate for every registered model (DIRL, smp/timm baselines); weights that a warm start left
        # fresh (a new branch) may learn faster (train.new_lr_mult), the pretrained encoder slower or not at all
        # (train.encoder_lr_mult; 0 freezes its weights and its BatchNorm statistics)
        named = dict(self.model.named_parameters())
        stages = t["encoder_stages"]
        # the encoder in a group of its own (one group as before otherwise)
        apart = t["encoder_lr_mult"] != 1 or stages is not None
        encoder = [k for k in named if apart and k.startswith("encoder.") and k not in fresh]  # in model order
        if apart and not encoder:
            raise ValueError(f"train.encoder_lr_mult: {cfg['model']['name']!r} has no 'encoder' weights")
        if stages is not None:  # the later stages are frozen: weights here, their BatchNorm in fit()
            if not any(k.startswith("encoder.stages.") for k in encoder):
                raise ValueError(f"train.encoder_stages: {cfg['model']['name']!r} has no 'encoder.stages'")
            early = tuple(f"encoder.stages.{i}." for i in range(int(stages)))
            for k in encoder:
                if not k.startswith(early):
                    named[k].requires_grad_(False)
            encoder = [k for k in encoder if k.startswith(early)]
        self.frozen_stages = [] if stages is None else list(self.model.encoder.stages)[int(stages) :]
        self.freeze_encoder = t["encoder_lr_mult"] == 0
        self.freeze_encoder_bn = self.freeze_encoder if t["encoder_bn_frozen"] is None else bool(t["encoder_bn_frozen"])
        if self.freeze_encoder_bn and not hasattr(self.model, "encoder"):
            raise ValueError(f"train.encoder_bn_frozen: {cfg['model']['name']!r} has no 'encoder'")
        for k in encoder if self.freeze_encoder else []:
            named[k].requires_grad_(False)
        # train.trainable: only the weights under these prefixes learn; every other module keeps its weights and
        # its BatchNorm statistics (eval mode in fit()), e.g. the image-level answer on a frozen localiser
        self.trainable = self.trainable_modules(t["trainable"], named)
        if cfg["loss"]["region_verdict"] and not hasattr(self.model, "verdict_head"):
            raise ValueError(f"loss.region_verdict: {cfg['model']['name']!r} has no verdict head")
        if cfg["loss"]["colour_shift"] and not hasattr(self.model, "shift_head"):
            raise ValueError(
                f"loss.colour_shift: {cfg['model']['name']!r} has no shift head (e.g. dirl_mobilenetv2_verdict_shift)"
            )
        if t["select"] not in ("IoU", "auroc"):
            raise ValueError(f"train.select must be 'IoU' or 'auroc', got {t['select']!r}")
        rest = [p for k, p in named.items() if k not in fresh and k not in encoder and p.requires_grad]
        groups = [{"params": rest, "lr": t["lr"]}]
        if encoder and not self.freeze_encoder:
            groups.append({"params": [named[k] for k in encoder], "lr": t["lr"] * t["encoder_lr_mult"]})
        if fresh:
            groups.append({"params": [p for k, p in named.items() if k in fresh], "lr": t["lr"] * t["new_lr_mult"]})
        if self.trainable:  # only what learns, in the groups that still hold any of it
            groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in groups]
            groups = [g for g in groups if g["params"]]
        self.optimizer = torch.optim.Adam(groups, lr=t["lr"], betas=(0.9, 0.999), weight_decay=t["weight_decay"])
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, t["milestones"], t["gamma"])
        self.anchor = self.anchor_weights(t["anchor_decay"], cfg["model"]["init"], fresh)
        self.epoch, self.step_in_epoch, self.global_step, self.best_iou = 0, 0, 0, -1.0
        self.silent_validations = 0
        self.skipped: dict[str, str] = {}  # sample name → error, over the whole run
        amp = t["amp"] and self.device.type == "cuda"
        self.amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if amp else None
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.scales = check_scales(t["scales"])
        decay = t["ema_decay"]
        if decay is not None and not 0 < decay < 1:
            raise ValueError(f"train.ema_decay must be in (0, 1) or null, got {decay}")
        self.ema = (
            AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True) if decay else None
        )
        self.feature_anchor = self.anchor_features(t["feature_anchor"], cfg["model"]["init"])
        self.net: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.writer = None
        if t["tensorboard"] and self.dist.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise TrainingError(
                    "train.tensorboard is on but the tensorboard package is not installed (pip install tensorboard)"
                ) from exc

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"))

    # ---------------------------------------------------------------- state
    @property
    def eval_model(self) -> nn.Module:
        """The model that validation measures and ``best.safetensors`` holds: the average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    @property
    def state_path(self) -> Path:
        return self.run_dir / "last.pt"

    def save_state(self) -> None:
        if not self.dist.is_main:
            return
        state = {
            "version": STATE_VERSION,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "best_iou": self.best_iou,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }
        limit = self.cfg["train"]["state_max_mib"]
        try:
            save_state_files(state, self.state_path, int(limit * 2**20) if limit else None)
        except OSError as exc:  # e.g. a full disk: the atomic write leaves the previous state as it was
            raise TrainingError(
                f"could not write the checkpoint {self.state_path} ({exc}); the previous one is intact: free space "
                f"and continue with --resume {self.run_dir}"
            ) from exc

    def load_state(self) -> None:
        if not self.state_path.is_file():
            raise TrainingError(f"cannot resume: {self.state_path} does not exist")
        try:
            state = load_state_files(self.state_path, map_location=self.device)
        except Exception as exc:  # noqa: BLE001 - truncated or foreign file
            raise TrainingError(f"cannot resume: {self.state_path} is unreadable ({exc})") from exc
        if state.get("version") != STATE_VERSION:
            raise TrainingError(f"cannot resume: {self.state_path} has state version {state.get('version')!r}")
        self.model.load_state_dict(state["model"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if state.get("ema"):
                self.ema.load_state_dict(state["ema"])
            else:  # a run that kept no average so far: it starts from the resumed weights
                log.info("train.ema_decay is new to this run: the average starts from the resumed weights")
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.global_step, self.best_iou = state["global_step"], state["best_iou"]
        log.info("resumed from %s at epoch %d, step %d", self.state_path, self.epoch, self.global_step)

    # ---------------------------------------------------------------- loop
    def loader(self, epoch: int, skip_batches: int) -> DataLoader:
        t = self.cfg["train"]
        group = getattr(self.train_set, "group_size", 1)
        indices = epoch_indices(len(self.train_set), epoch, t["seed"], self.dist, group)
        indices = indices[skip_batches * t["batch_size"] :]
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)
        return DataLoader(
            self.train_set,
            batch_size=t["batch_size"],
            sampler=indices,
            drop_last=True,
            num_workers=loader_workers(t["workers"]),
            pin_memory=self.device.type == "cuda",
        )

    def train_step(self, batch: dict) -> dict[str, float]:
        x = batch["image"].to(self.device, non_blocking=True)
        m = batch["mask"].to(self.device, non_blocking=True)
        if self.scales:  # resized where the model runs (the GPU when there is one)
            batch = rescaled_batch(
                {**batch, "image": x, "mask": m}, self.scales, self.cfg["train"]["seed"], self.global_step
            )
            x, m = batch["image"], batch["mask"]
        ctx = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        with ctx:
            out = self.net(x)
        # synthetic pairs name which composite and twin show the same content (loss.dense_pair)
        extra = {"content": batch["content"]} if "content" in batch else {}
        losses = self.criterion(out, m, **extra)
        if self.feature_anchor is not None:  # the maps the forward pass just made, against the start's
            anchor = self.feature_anchor.loss()
            losses["loss"] = losses["loss"] + anchor
            losses["feature_anchor"] = anchor.detach()
        weight = self.cfg["loss"]["region_verdict"]
        if weight:  # the verdict head asked about the true region (checked in __init__: a model with the head)
            if "content" not in batch:
                raise TrainingError(
                    "loss.region_verdict needs synthetic pairs with 'content' ids (data.kind: synthetic)"
                )
            region = region_verdict_loss(self.model.verdict_head, out["verdict_maps"], m, batch["content"])
            losses["loss"] = losses["loss"] + weight * region
            losses["region"] = region.detach()
        weight = self.cfg["loss"]["colour_shift"]
        if weight:  # how each pixel's colour was changed (checked in __init__: a model with the shift head)
            if "content" not in batch:
                raise TrainingError("loss.colour_shift needs synthetic pairs with 'content' ids (data.kind: synthetic)")
            shift = colour_shift_loss(out["colour_shift"], x, m, batch["content"])
            losses["loss"] = losses["loss"] + weight * shift
            losses["shift"] = shift.detach()
        if not torch.isfinite(losses["loss"]):
            raise TrainingError(
                f"loss became {losses['loss'].item()} at epoch {self.epoch}, step {self.global_step}; "
                f"the last good state is {self.state_path} (try a lower train.lr, or train.amp=false)"
            )
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(losses["loss"]).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            losses["loss"].backward()
            self.optimizer.step()
        self.pull_to_anchor()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in losses.items()}

    def anchor_weights(self, decay: float, init: str | None, fresh: list[str]) -> dict[nn.Parameter, torch.Tensor]:
        """The starting values that ``train.anchor_decay`` pulls the learning weights back to (those model.init
        gave; taken before any step, so a resumed run pulls toward the same start)."""
        if not decay:
            return {}
        if decay < 0 or not init:
            raise ValueError(
                f"train.anchor_decay must be ≥ 0 and needs model.init (the weights to stay near), got {decay} "
                f"with model.init {init!r}"
            )
        rate = max(g["lr"] for g in self.optimizer.param_groups) * decay
        if rate >= 1:
            raise ValueError(f"train.anchor_decay: lr × anchor_decay must be below 1 (a fraction per step), got {rate}")
        return {p: p.detach().clone() for k, p in self.model.named_parameters() if p.requires_grad and k not in fresh}

    def anchor_features(self, weight: float, init: str | None) -> FeatureAnchor | None:
        """``train.feature_anchor``: a frozen copy of the encoder as model.init gave it (made after the average,
        so that the copy the average keeps carries no hook), or None when off."""
        if not weight:
            return None
        if weight < 0 or not init or self.freeze_encoder:
            raise ValueError(
                f"train.feature_anchor must be ≥ 0 and needs model.init (the encoder to stay near) and a learning "
                f"encoder (train.encoder_lr_mult > 0), got {weight} with model.init {init!r} and encoder_lr_mult "
                f"{self.cfg['train']['encoder_lr_mult']}"
            )
        return FeatureAnchor(self.model, weight)  # the copy is made on the model's device

    @torch.no_grad()
    def pull_to_anchor(self) -> None:
        if not self.anchor:
            return
        decay = self.cfg["train"]["anchor_decay"]
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                start = self.anchor.get(p)
                if start is not None:
                    p.lerp_(start, group["lr"] * decay)

    def trainable_modules(self, prefixes: list[str] | None, named: dict[str, nn.Parameter]) -> list[nn.Module]:
        """Freeze every weight outside ``prefixes`` (module names such as ``verdict_head``) and return the
        modules that still learn; ``None``: nothing changes. Names that match no weight are refused."""
        if prefixes is None:
            return []
        if isinstance(prefixes, str) or not prefixes:
            raise ValueError(f"train.trainable must be a non-empty list of module names, got {prefixes!r}")
        modules = dict(self.model.named_modules())
        unknown = [p for p in prefixes if p not in modules or not any(k.startswith(p + ".") for k in named)]
        if unknown:
            raise ValueError(
                f"train.trainable: {self.cfg['model']['name']!r} has no module with weights named {unknown}; "
                f"top-level modules: {', '.join(n for n, _ in self.model.named_children())}"
            )
        for k, param in named.items():
            if not k.startswith(tuple(p + "." for p in prefixes)):
                param.requires_grad_(False)
        return [modules[p] for p in prefixes]

    def validation_due(self, epoch_done: int) -> bool:
        t = self.cfg["train"]
        every = t["val_every_early"] if epoch_done < t["milestones"][0] else t["val_every"]
        return epoch_done % max(1, every) == 0 or epoch_done == t["epochs"]

    def validate(self) -> dict:
        """Published-protocol AP/F1/IoU on the validation composites, plus what silence would hide: the median
        predicted area on composites and on authentic samples, and the AUROC of the image score between them.
        Raises :class:`TrainingError` when predictions on composites have been empty ``train.collapse_patience``
        validations in a row."""
        import numpy as np

        from inharmony.verdict import auroc, image_score

        summary: dict = {}
        if self.dist.is_main:
            seen: dict[str, list] = {
                "composite": [],
                "authentic": [],
                "score_c": [],
                "score_a": [],
                "mask": [],
                "candidate": [],
            }

            def on_batch(batch, prob, metrics):
                candidate = batch.get("candidate", prob).numpy()[:, 0]
                for p, c, m in zip(prob.numpy()[:, 0], candidate, batch["mask"].numpy()[:, 0]):
                    kind = "composite" if m.max() > 0.5 else "authentic"
                    seen[kind].append(float((p > 0.5).mean()))
                    seen["score_c" if kind == "composite" else "score_a"].append(image_score(p))
                    if kind == "composite":
                        seen["mask"].append(float(m.mean()))
                        seen["candidate"].append(float((c > 0.5).mean()))

            acc = evaluate(
                self.eval_model,
                self.val_set,
                self.device,
                batch_size=self.cfg["train"]["batch_size"],
                on_batch=on_batch,
            )
            acc.rows = [r for r in acc.rows if r["group"] != "authentic"]  # AP/F1/IoU are defined on composites
            summary = acc.summary()["overall"]
            summary["area_composite"] = float(np.median(seen["composite"])) if seen["composite"] else float("nan")
            summary["area_authentic"] = float(np.median(seen["authentic"])) if seen["authentic"] else float("nan")
            summary["auroc"] = auroc(seen["score_c"], seen["score_a"])
            # a verdict model's candidate region on composites (before the gate); the same as area_composite otherwise
            summary["area_candidate"] = float(np.median(seen["candidate"])) if seen["candidate"] else float("nan")
            chosen = summary[self.cfg["train"]["select"]]  # best_iou holds the chosen figure's best
            if chosen > self.best_iou:
                self.best_iou = chosen
                info = {"epoch": self.epoch, "val": summary, "run": str(self.run_dir), "size": self.cfg["data"]["size"]}
                save_model(self.eval_model, self.run_dir / "best.safetensors", info=info)
            # the guard watches the localiser: a verdict head that is still unsure empties the gated mask, which
            # is measured by the AUROC, not a collapse
            self.check_collapse(np.mean(seen["candidate"]) if seen["candidate"] else None, np.mean(seen["mask"] or [0]))
        distributed.barrier(self.dist)
        return summary

    def check_collapse(self, predicted_area: float | None, mask_area: float) -> None:
        patience = self.cfg["train"]["collapse_patience"]
        if not patience or predicted_area is None:
            return
        self.silent_validations = self.silent_validations + 1 if predicted_area < 0.1 * mask_area else 0
        if self.silent_validations >= patience:
            raise TrainingError(
                f"predictions on validation composites have been (almost) empty for {patience} validation(s) "
                f"(mean predicted area {predicted_area:.4f} vs mask area {mask_area:.4f}): the model is collapsing "
                f"to silence; the last state is {self.state_path} (lower data.authentic_share or train.lr)"
            )

    def log_epoch(self, row: dict) -> None:
        if not self.dist.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        rows = [json.loads(x) for x in (self.run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
        keys = list(dict.fromkeys(k for r in rows for k in r))
        lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
        write_text_atomic(self.run_dir / "metrics.csv", "\n".join(lines) + "\n")
        if self.writer:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k != "epoch":
                    self.writer.add_scalar(k, v, row["epoch"])

    def fit(self, resume: bool = False) -> dict:
        """Train to ``train.epochs`` (or ``train.max_steps``, or for ``train.max_minutes`` of this call: a chunk of a
        long run, resumed by the next call); returns the last validation summary."""
        from inharmony.cli.progress import progress

        t = self.cfg["train"]
        began = time.perf_counter()

        def out_of_budget() -> bool:
            steps = bool(t["max_steps"] and self.global_step >= t["max_steps"])
            return steps or bool(t["max_minutes"] and time.perf_counter() - began >= 60 * t["max_minutes"])

        if resume:
            self.load_state()
        last_val: dict = {}
        try:
            while self.epoch < t["epochs"]:
                self.net.train()
                if self.freeze_encoder_bn:  # its BatchNorm statistics stay those it came with
                    self.model.encoder.eval()
                for stage in self.frozen_stages:  # stages that do not learn keep theirs too
                    stage.eval()
                if self.trainable:  # a frozen model in eval mode, the modules that learn in training mode
                    self.model.eval()
                    for module in self.trainable:
                        module.train()
                loader = self.loader(self.epoch, self.step_in_epoch)
                sums, count, start = {"loss": 0.0, "det": 0.0, "att": 0.0}, 0, time.perf_counter()
                bar = progress(
                    loader, desc=f"epoch {self.epoch + 1}/{t['epochs']}", disable=not self.dist.is_main or None
                )
                skips = 0
                for batch in bar:
                    for note in batch.get("skipped", []):
                        if note:
                            skips += 1
                            name, _, error = note.partition(": ")
                            self.skipped[name] = error
                    losses = self.train_step(batch)
                    self.global_step += 1
                    self.step_in_epoch += 1
                    count += 1
                    for k in losses:
                        sums[k] = sums.get(k, 0.0) + losses[k]
                    rate = count * t["batch_size"] * self.dist.world_size / (time.perf_counter() - start)
                    bar.set_postfix(loss=f"{losses['loss']:.3f}", img_s=f"{rate:.1f}")
                    if self.dist.is_main and bar.disable and t["log_every"] and self.global_step % t["log_every"] == 0:
                        log.info(
                            "epoch %d step %d (%d samples): loss %.4f, %.2f img/s",
                            self.epoch + 1,
                            self.global_step,
                            self.global_step * t["batch_size"] * self.dist.world_size,
                            sums["loss"] / count,
                            rate,
                        )
                    if t["checkpoint_every"] and self.global_step % t["checkpoint_every"] == 0:
                        self.save_state()
                    if out_of_budget():
                        break
                finished_epoch = self.step_in_epoch >= len(self.train_set) // (t["batch_size"] * self.dist.world_size)
                row = {"epoch": self.epoch + 1, "step": self.global_step, "lr": self.optimizer.param_groups[0]["lr"]}
                row["samples_seen"] = self.global_step * t["batch_size"] * self.dist.world_size
                row["skipped"] = skips
                if skips > t["max_bad_share"] * max(1, count * t["batch_size"]):
                    self.save_state()
                    raise TrainingError(
                        f"{skips} of {count * t['batch_size']} samples of epoch {self.epoch + 1} could not be read "
                        f"(more than train.max_bad_share = {t['max_bad_share']}), e.g. "
                        + "; ".join(f"{k}: {v}" for k, v in list(self.skipped.items())[:3])
                        + " (run 'inharmony data check' on the dataset)"
                    )
                row.update({k: round(v / max(count, 1), 5) for k, v in sums.items()})
                row["images_per_s"] = round(
                    count * t["batch_size"] * self.dist.world_size / (time.perf_counter() - start), 2
                )
                stop = out_of_budget()
                if finished_epoch:
                    with warnings.catch_warnings():
                        # a run resumed exactly at an epoch's end steps the restored scheduler before this
                        # process's first optimizer step; the schedule is right, torch's warning is not
                        warnings.filterwarnings(
                            "ignore", message="Detected call of `lr_scheduler.step", category=UserWarning
                        )
                        self.scheduler.step()
                    self.epoch += 1
                    self.step_in_epoch = 0
                due = finished_epoch and (self.validation_due(self.epoch) or stop) or (stop and not last_val)
                if due and t["validate"]:
                    last_val = self.validate()
                    row.update({f"val_{k}": round(v, 4) for k, v in last_val.items() if k != "n"})
                self.save_state()
                self.log_epoch(row)
                if self.dist.is_main:
                    log.info("epoch %s: %s", row["epoch"], {k: v for k, v in row.items() if k != "epoch"})
                if stop:
                    break
        finally:
            if self.writer:
                self.writer.close()
        return last_val
