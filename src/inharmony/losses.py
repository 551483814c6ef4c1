"""DIRL's training loss (reference §2): BCE + (1 − SSIM) + soft IoU, on the output and the MDA maps.

On an authentic image (empty mask) only BCE is used: SSIM against an all-zero map is about 0 unless the
prediction is *exactly* zero (C1·C2 / ((μ² + C1)(σ² + C2))), and soft IoU is the constant 1, so both would reward
silence far more than BCE does and a model fed authentic twins collapses to empty masks. The SSIM and IoU terms are
averaged over the samples whose mask is not empty (identical to the reference when every mask has a region).

``L = λ_det · L_seg(sigmoid(logits), M) + λ_att · Σ_k L_seg(A_k, M)`` with ``λ_det = λ_att = 1`` and the
IoU term on by default, as in the released code.

A model with a verdict head (outputs ``"mask_logits"`` and ``"verdict"``) learns *where* only from composites
(L_seg on ``mask_logits`` and the attention maps of the samples with a region) and *whether* from every sample:
``+ λ_verdict · BCE(verdict, mask not empty)``. Authentic photos then teach the verdict, never the mask, so
silence is no cheaper answer for the localiser. With ``λ_pair`` the verdict also learns from each composite *against
its own authentic twin*: the trainer keeps pairs together, so samples ``2k`` and ``2k + 1`` of a batch are a
composite and its twin (or two unrelated samples, which are skipped: a pair counts only when exactly one of the
two has a region), and ``+ λ_pair · mean softplus(v_twin − v_composite)`` rewards ranking the composite above its
twin. The two images differ only where the region was changed (or, for a pasted object, in the scene around it),
so this term carries the evidence without the variation between photos that the plain BCE must also explain.
A model with a comparison head (``"relative_logits"``, :mod:`inharmony.layers.relative`) adds ``L_seg`` on those
logits over every sample, authentic ones included (an authentic photo's codes should all agree).
``λ_dense`` asks the same of every pixel of the localiser: where a region was changed in place, the composite's
mask logit must exceed its twin's at the same pixel, ``+ λ_dense · mean_{x ∈ M} softplus(m_twin(x) − m_comp(x))``
over the pairs the batch marks as showing the same content (``content`` ids, :mod:`inharmony.data.synth.stream`).
The content under the region is identical in both images, so what the object *is* cannot pay this term, only
what was done to its colour; unlike a mask loss on authentic photos it is a ranking, so silence does not pay it
either.
``loss.colour_shift`` (the trainer) asks how each pixel's colour was changed: the composite minus its own twin as a
log-opponent shift, 0 on authentic photos (:func:`colour_shift_loss`, :mod:`inharmony.layers.shift_head`).
SSIM is kornia's (11×11 Gaussian window, σ 1.5,
C1 = 0.01², C2 = 0.03², reflect padding; the reference zero-pads, which only changes the 5-pixel border).
"""

from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers.shift_head import colour_shift


def ssim_loss(prob: Tensor, target: Tensor, window_size: int = 11) -> Tensor:
    """``1 − mean SSIM`` between probability maps and masks (B×1×H×W, values in [0, 1])."""
    return 1.0 - kornia.metrics.ssim(prob, target, window_size, max_val=1.0, eps=0.0).mean()


def soft_iou_loss(prob: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """Per sample ``1 − Σ(P·M) / (ΣM + ΣP − Σ(P·M))``, averaged over the batch."""
    inter = (prob * target).flatten(1).sum(1)
    union = (prob + target).flatten(1).sum(1) - inter
    return (1.0 - inter / (union + eps)).mean()


def has_region(target: Tensor) -> Tensor:
    """B bools: which masks of a B×1×H×W batch have at least one foreground pixel."""
    return target.flatten(1).amax(1) > 0.5


class SegmentationLoss(nn.Module):
    """``w_bce · BCE + w_ssim · (1 − SSIM) + w_iou · softIoU`` on one map.

    ``forward(pred, target, logits=True)``: ``pred`` is B×1×H×W logits (or probabilities when
    ``logits=False``), ``target`` the binary mask of the same shape.
    """

    def __init__(self, bce: float = 1.0, ssim: float = 1.0, iou: float = 1.0) -> None:
        super().__init__()
        self.w_bce, self.w_ssim, self.w_iou = bce, ssim, iou

    def forward(self, pred: Tensor, target: Tensor, logits: bool = True) -> Tensor:
        pred, target = pred.float(), target.float()
        if logits:
            bce = F.binary_cross_entropy_with_logits(pred, target)
            prob = torch.sigmoid(pred)
        else:
            prob = pred.clamp(1e-7, 1 - 1e-7)
            bce = -(target * prob.log() + (1 - target) * (1 - prob).log()).mean()
        loss = self.w_bce * bce
        keep = has_region(target)
        if not bool(keep.any()):
            return loss
        if not bool(keep.all()):
            prob, target = prob[keep], target[keep]
        if self.w_ssim:
            loss = loss + self.w_ssim * ssim_loss(prob, target)
        if self.w_iou:
            loss = loss + self.w_iou * soft_iou_loss(prob, target)
        return loss


class DIRLLoss(nn.Module):
    """The full DIRL objective over the model's output dict.

    ``forward(outputs, mask)`` returns ``{"loss", "det", "att"}`` (scalars); ``att`` sums the five
    attention terms. ``lambda_att = 0`` trains the attention unsupervised (the paper's "DA" ablation).
    """

    def __init__(
        self,
        lambda_det: float = 1.0,
        lambda_att: float = 1.0,
        ssim: float = 1.0,
        iou: float = 1.0,
        lambda_verdict: float = 1.0,
        lambda_pair: float = 0.0,
        lambda_dense: float = 0.0,
    ) -> None:
        super().__init__()
        self.lambda_det, self.lambda_att, self.lambda_verdict = lambda_det, lambda_att, lambda_verdict
        self.lambda_pair, self.lambda_dense = lambda_pair, lambda_dense
        self.seg = SegmentationLoss(bce=1.0, ssim=ssim, iou=iou)

    def forward(self, outputs: dict, mask: Tensor, content: Tensor | None = None) -> dict[str, Tensor]:
        """``content``: B ids, equal for a composite and its twin of the same content (-1: none); needed by
        ``lambda_dense`` only."""
        out = self.with_verdict(outputs, mask) if "verdict" in outputs else self.plain(outputs, mask)
        if "relative_logits" in outputs:  # the comparison head learns on every sample, authentic ones included
            relative = self.seg(outputs["relative_logits"], mask, logits=True)
            out["loss"] = out["loss"] + relative
            out["relative"] = relative.detach()
        if self.lambda_dense:
            if content is None:
                raise ValueError("loss.dense_pair needs the batch's 'content' ids (synthetic pairs made in place)")
            logits = outputs.get("mask_logits", outputs["logits"]).float()
            dense = dense_pair_loss(logits, mask, content.to(mask.device))
            out["loss"] = out["loss"] + self.lambda_dense * dense
            out["dense"] = dense.detach()
        return out

    def plain(self, outputs: dict, mask: Tensor) -> dict[str, Tensor]:
        det = self.seg(outputs["logits"], mask, logits=True)
        att = det.new_zeros(())
        if self.lambda_att:
            for a in outputs.get("attention", []):
                att = att + self.seg(a, mask, logits=False)
        return {"loss": self.lambda_det * det + self.lambda_att * att, "det": det.detach(), "att": att.detach()}

    def with_verdict(self, outputs: dict, mask: Tensor) -> dict[str, Tensor]:
        keep = has_region(mask)
        verdict = F.binary_cross_entropy_with_logits(outputs["verdict"].float(), keep.float())
        det, att = verdict.new_zeros(()), verdict.new_zeros(())
        if bool(keep.any()):
            det = self.seg(outputs["mask_logits"][keep], mask[keep], logits=True)
            if self.lambda_att:
                for a in outputs.get("attention", []):
                    att = att + self.seg(a[keep], mask[keep], logits=False)
        loss = self.lambda_det * det + self.lambda_att * att + self.lambda_verdict * verdict
        out = {"det": det.detach(), "att": att.detach(), "verdict": verdict.detach()}
        if self.lambda_pair:
            pair = pair_ranking_loss(outputs["verdict"].float(), keep)
            loss = loss + self.lambda_pair * pair
            out["pair"] = pair.detach()
        return {"loss": loss, **out}


def as_pairs(values: Tensor) -> Tensor:
    """Samples ``(2k, 2k + 1)`` of a batch side by side: B×… → (B // 2)×2×… (an odd last sample is dropped)."""
    n = values.shape[0] // 2 * 2
    return values[:n].reshape(-1, 2, *values.shape[1:])


def composite_and_twin(pairs: Tensor, composite_first: Tensor) -> tuple[Tensor, Tensor]:
    """(composite, twin) members of P×2×… pairs, given P bools: is the first member the composite."""
    first = composite_first.view(-1, *[1] * (pairs.dim() - 2))
    return torch.where(first, pairs[:, 0], pairs[:, 1]), torch.where(first, pairs[:, 1], pairs[:, 0])


def in_place_pairs(content: Tensor, keep: Tensor) -> Tensor:
    """Which pairs ``(2k, 2k + 1)`` are a composite made in place and its own twin: both carry the same ``content``
    id ≥ 0 and exactly one has a region (B ids and B bools → P bools; an odd last sample is dropped)."""
    ids, k = as_pairs(content), as_pairs(keep)
    return (ids[:, 0] == ids[:, 1]) & (ids[:, 0] >= 0) & (k[:, 0] != k[:, 1])


def pair_ranking_loss(verdict: Tensor, keep: Tensor) -> Tensor:
    """``mean softplus(v_twin − v_composite)`` over the pairs ``(2k, 2k + 1)`` of a batch in which exactly one
    sample has a region (B logits, B bools); 0 when there is no such pair."""
    v, k = as_pairs(verdict), as_pairs(keep)
    valid = k[:, 0] != k[:, 1]
    if not bool(valid.any()):
        return verdict.new_zeros(())
    composite, twin = composite_and_twin(v, k[:, 0])
    return F.softplus(twin - composite)[valid].mean()


def dense_pair_loss(mask_logits: Tensor, mask: Tensor, content: Tensor) -> Tensor:
    """``mean_{x ∈ M} softplus(m_twin(x) − m_comp(x))`` per valid pair ``(2k, 2k + 1)``, averaged over the pairs
    (B×1×H×W logits and masks, B content ids): a pair is valid when both samples carry the same id ≥ 0 and exactly
    one has a region (whose mask M is used); 0 when no pair is."""
    if mask_logits.shape[0] < 2:
        return mask_logits.new_zeros(())
    region_present = has_region(mask)
    keep, valid = as_pairs(region_present), in_place_pairs(content, region_present)
    if not bool(valid.any()):
        return mask_logits.new_zeros(())
    composite, twin = composite_and_twin(as_pairs(mask_logits), keep[:, 0])
    region, _ = composite_and_twin(as_pairs(mask), keep[:, 0])
    gap = F.softplus(twin[valid] - composite[valid])
    region = region[valid].float()
    return ((gap * region).flatten(1).sum(1) / region.flatten(1).sum(1).clamp_min(1.0)).mean()


def region_targets(mask: Tensor, content: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Where the verdict is asked about the *true* region: every composite's own mask (label 1), and each authentic
    twin of an in-place pair (same ``content`` id ≥ 0 as its composite) the composite's mask, the same pixels left
    unchanged (label 0). Returns (B×1×H×W regions, B labels, B bools: which samples take part)."""
    keep = has_region(mask)
    regions, labels, valid = mask.clone(), keep.float(), keep.clone()
    n = mask.shape[0] // 2 * 2
    if n:
        paired = in_place_pairs(content, keep)
        swapped = as_pairs(mask).flip(1).reshape(n, *mask.shape[1:])  # each sample gets its partner's mask
        twin = ~keep[:n] & paired.repeat_interleave(2)
        regions[:n][twin] = swapped[twin]
        valid[:n] |= twin
    return regions, labels, valid


def region_verdict_loss(head, maps: list[Tensor], mask: Tensor, content: Tensor) -> Tensor:
    """BCE of the verdict head asked about the true region instead of the localiser's candidate
    (:func:`region_targets`): a signal that trains the features the head pools to carry the change *where it was
    made*, composite against its own unchanged twin; 0 when no sample takes part."""
    regions, labels, valid = region_targets(mask, content.to(mask.device))
    if not bool(valid.any()):
        return mask.new_zeros(())
    logits = head(regions[valid], [m[valid] for m in maps])
    return F.binary_cross_entropy_with_logits(logits.float(), labels[valid])


def shift_targets(images: Tensor, mask: Tensor, content: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """What :class:`~inharmony.layers.shift_head.ShiftHead` is asked, at ``size``: every authentic sample has no
    change (0), every composite made in place with its twin beside it (pair ``(2k, 2k + 1)``, same ``content``
    id ≥ 0) the composite minus that twin; composites without a twin (pasted) are not asked. Returns (B×3×h×w
    targets, B bools: which samples take part)."""
    keep = has_region(mask)
    targets = images.new_zeros(images.shape[0], 3, *size, dtype=torch.float32)
    valid = ~keep
    n = images.shape[0] // 2 * 2
    if n:
        paired, k = in_place_pairs(content, keep), as_pairs(keep)
        if bool(paired.any()):
            composite, twin = composite_and_twin(as_pairs(images)[paired], k[paired, 0])
            shift = colour_shift(composite, twin, size)
            index = torch.arange(n, device=images.device).view(-1, 2)[paired]
            rows = torch.where(k[paired, 0], index[:, 0], index[:, 1])
            targets[rows] = shift
            valid[rows] = True
    return targets, valid


def colour_shift_loss(pred: Tensor, images: Tensor, mask: Tensor, content: Tensor) -> Tensor:
    """Smooth-L1 between the predicted colour shift (B×3×h×w) and :func:`shift_targets`, the region and the rest
    of each image weighted equally (an authentic photo: the rest only), averaged over the samples that take
    part; 0 when none does."""
    targets, valid = shift_targets(images, mask, content.to(mask.device), pred.shape[-2:])
    if not bool(valid.any()):
        return pred.new_zeros(()).float()
    err = F.smooth_l1_loss(pred[valid].float(), targets[valid], reduction="none", beta=0.5).sum(1, keepdim=True)
    region = F.adaptive_avg_pool2d(mask[valid].float(), pred.shape[-2:])
    inside = (err * region).flatten(1).sum(1) / region.flatten(1).sum(1).clamp_min(1e-6)
    outside = (err * (1 - region)).flatten(1).sum(1) / (1 - region).flatten(1).sum(1).clamp_min(1e-6)
    has = has_region(mask[valid])
    return torch.where(has, 0.5 * (inside + outside), outside).mean()
