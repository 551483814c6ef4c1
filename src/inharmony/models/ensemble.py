"""Several trained models answering as one, combined in output space (an ensemble of experts).

Weight-space mixing (``ship_model.py --start/--soup``) needs one architecture and one start, and blends what the
states learned into one compromise. Combining *answers* keeps each member as it was trained: e.g. a model good at
pasted composites and one fine-tuned on changes made in place. :class:`Ensemble` runs every member on the same
batch and combines their final pixel probabilities (``combine="mean"``: a weighted mean, so one member's region
shows at its share of its confidence; ``"logit_mean"``: a weighted mean of log-odds, a product of experts that
keeps only what the members agree on; ``"max"``: the most confident member at each pixel). With ``mask_member``
the members answer only *whether* (their verdicts combined) and that one member alone says *where*: the pixel
ranking within an image, hence every per-image AP, is that member's, and only the image-level answer changes.
The result has the output dict every consumer reads (``logits``, ``attention``, and ``mask_logits``/``verdict``
when every member has a verdict head), so it is saved, calibrated, evaluated and exported to ONNX like any single
model, at the sum of its members' costs. With ``shared_encoder`` the members are fine-tunes of one model whose
encoder did not learn (e.g. ``train.encoder_lr_mult=0`` from the same start): the first member's encoder runs once
and every member decodes its maps, so the ensemble costs one encoder plus the members' decoders, and its file
holds one encoder (``inharmony.checkpoint.ensemble_models`` checks that the members' encoders are equal).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from inharmony.layers.verdict_head import gated_logits, safe_logit

COMBINE = ("mean", "logit_mean", "max")


class Ensemble(nn.Module):
    """Members built from ``members`` (a list of ``{"name": registered model, "config": its config}``, as model
    files store them); ``weights``: one non-negative weight per member for ``combine="mean"`` or
    ``"logit_mean"``; ``flip_test`` (when not ``None``) sets every member's mirror pass; ``mask_member`` (an index,
    or ``None``: all): the one member whose mask is the ensemble's, gated by the combined verdict (every member
    needs a verdict head); ``shared_encoder``: the members decode the first member's encoder maps (the others
    carry no encoder; every member needs ``encode`` and the same test-time views)."""

    def __init__(
        self,
        members: list[dict[str, Any]],
        weights: list[float] | None = None,
        combine: str = "mean",
        flip_test: bool | None = None,
        mask_member: int | None = None,
        shared_encoder: bool = False,
    ) -> None:
        super().__init__()
        from inharmony.models.registry import create_model

        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
        if combine not in COMBINE:
            raise ValueError(f"ensemble combine must be one of {COMBINE}, got {combine!r}")
        weights = [1.0 / len(members)] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"ensemble weights: one non-negative weight per member, not all 0; got {weights}")
        built = []
        for i, member in enumerate(members):
            if not isinstance(member, dict) or set(member) != {"name", "config"}:
                raise ValueError(f"ensemble member {i}: expected {{'name': ..., 'config': {{...}}}}, got {member!r}")
            if member["name"] == "ensemble":
                raise ValueError(f"ensemble member {i} is itself an ensemble: list its members instead")
            config = dict(member["config"])
            if flip_test is not None:
                config["flip_test"] = bool(flip_test)
            built.append(create_model(member["name"], **config))
        self.members = nn.ModuleList(built)
        if mask_member is not None:
            if not 0 <= int(mask_member) < len(built):
                raise ValueError(f"ensemble mask_member: an index below {len(built)} (the members), got {mask_member}")
            missing = [i for i, m in enumerate(built) if not hasattr(m, "verdict_head")]
            if missing:
                raise ValueError(f"ensemble mask_member: every member needs a verdict head; {missing} have none")
        if shared_encoder:
            lacking = [i for i, m in enumerate(built) if not hasattr(m, "encode")]
            if lacking:
                raise ValueError(f"ensemble shared_encoder: members {lacking} cannot take an encoder's maps")
            scaled = [i for i, m in enumerate(built) if getattr(m, "test_scales", ())]
            if scaled:
                raise ValueError(
                    f"ensemble shared_encoder: members {scaled} run other scales (scale_test), which "
                    "need their own encoder"
                )
            views = {(m.flip_test, m.shift_test) for m in built}
            if len(views) > 1:
                raise ValueError(f"ensemble shared_encoder: the members' test-time views differ {sorted(views)}")
            for member in built[1:]:
                del member.encoder  # the first member's runs for all
        self.shared_encoder = bool(shared_encoder)
        self.mask_member = None if mask_member is None else int(mask_member)
        self.combine = combine
        self.register_buffer("weights", torch.tensor(weights) / sum(weights), persistent=False)

    def _mean(self, maps: list[Tensor]) -> Tensor:
        stacked = torch.stack(maps)
        return (stacked * self.weights.view(-1, *([1] * (stacked.dim() - 1)))).sum(dim=0)

    def _merge(self, logits: list[Tensor]) -> Tensor:
        """The combined logits of the members' logits (a B×1×H×W map each, or B verdicts)."""
        if self.combine == "logit_mean":
            return self._mean(logits)
        probs = [torch.sigmoid(t) for t in logits]
        return safe_logit(torch.stack(probs).amax(dim=0) if self.combine == "max" else self._mean(probs))

    def forward(self, x: Tensor) -> dict[str, Tensor | list[Tensor]]:
        if self.shared_encoder:
            encoded = self.members[0].encode(x)
            outs = [member(x, encoded) for member in self.members]
        else:
            outs = [member(x) for member in self.members]
        if self.mask_member is not None:  # one member says where, all of them whether
            own = outs[self.mask_member]
            verdict = self._merge([o["verdict"] for o in outs])
            return {
                "logits": gated_logits(own["mask_logits"], verdict),
                "attention": own["attention"],
                "mask_logits": own["mask_logits"],
                "verdict": verdict,
            }
        counts = {len(o["attention"]) for o in outs}
        if len(counts) != 1:
            raise ValueError(f"ensemble members return different numbers of attention maps: {sorted(counts)}")
        merged: dict[str, Tensor | list[Tensor]] = {
            "logits": self._merge([o["logits"] for o in outs]),
            "attention": [self._mean([o["attention"][i] for o in outs]) for i in range(counts.pop())],  # probabilities
        }
        if all("mask_logits" in o for o in outs):
            merged["mask_logits"] = self._merge([o["mask_logits"] for o in outs])
            merged["verdict"] = self._merge([o["verdict"] for o in outs])
        return merged


def member_spec(model: nn.Module) -> dict[str, Any]:
    """How an ensemble's config names a built model (``create_model``'s name and config)."""
    return {"name": model.model_name, "config": dict(model.model_config)}
