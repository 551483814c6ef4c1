"""DIRL: encoder → five BFI → five MDA → GGD → 1×1 head (DIRL reference §1)."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from inharmony.layers import MDA, BFIThree, BFITwo, GGDDecoder
from inharmony.layers.colour import ColourHead, ColourStream
from inharmony.layers.colour_mapping import ColourMapper
from inharmony.layers.colour_unet import ColourUNet
from inharmony.layers.relative import RelativeHead
from inharmony.layers.shift_head import ShiftHead
from inharmony.layers.verdict_head import VerdictHead, gated_logits
from inharmony.layers.verdict_lowlevel import LowLevelVerdict
from inharmony.models.encoders import create_encoder

SCALE_USES = ("both", "mask", "verdict")


class DIRL(nn.Module):
    """Deep Inharmonious Region Localization network.

    ``forward(x)`` takes B×3×H×W ImageNet-normalised images and returns a dict:

    - ``"logits"``: B×1×H×W mask logits (apply ``sigmoid`` for probabilities);
    - ``"attention"``: list of five B×1×H×W MDA spatial maps (probabilities), finest (A0) first,
      bilinearly upsampled to H×W. The engine supervises them with the mask.

    With ``verdict=True`` (:mod:`inharmony.layers.verdict_head`) it also returns ``"mask_logits"`` (where the
    region would be if there were one) and ``"verdict"`` (B logits: is there one), and ``"logits"`` is the gated
    map ``logit(σ(mask_logits) · σ(verdict))``, so every consumer of ``"logits"`` gets the final answer.

    H and W should be multiples of the encoder's deepest stride (16 for ResNet-34, 32 for MobileNetV2).
    """

    def __init__(
        self,
        encoder: str = "resnet34",
        decoder_channels: int = 32,
        encoder_weights: str | Path | None = None,
        fusion: str = "bfi",
        attention: str = "mda",
        decoder: str = "ggd",
        colour: str = "none",
        verdict: bool | str = False,
        mapper: str = "none",
        flip_test: bool = False,
        shift_test: int = 0,
        scale_test: float | list[float] = 0.0,
        scale_use: str = "both",
        relative: bool = False,
        verdict_lowlevel: bool | str = False,
        shift_head: bool = False,
    ) -> None:
        """``fusion`` ("bfi" | "skip"), ``attention`` ("mda" | "none") and ``decoder`` ("ggd" | "plain")
        switch the paper's three components off for ablations; ``colour="stream"`` adds a light relative-colour
        stream (:mod:`inharmony.layers.colour`) whose logit correction is added to the decoder's (``"stream+unet"``:
        and a second, deeper one from a colour U-Net at 1/2 resolution, :mod:`inharmony.layers.colour_unet`);
        ``verdict`` adds the image-level gate (``"contrast"``: one that compares the region with its surroundings only);
        ``mapper="ihdrnet"`` puts MadisNet's learnable colour mapping (:mod:`inharmony.layers.colour_mapping`) in
        front of everything. ``flip_test``: in evaluation mode, also run the mirrored image and average the two
        answers (logits, verdict, attention), at twice the cost; training is unchanged. ``shift_test`` (pixels):
        in evaluation mode, also run the image moved by that many pixels down and right (its edges mirrored) and
        average the answers moved back, at twice the cost again (with ``flip_test``: four views). ``scale_test``
        (a factor, or a list of them; 0: off): in evaluation mode, also run every view resized by each factor (to a
        multiple of 32 pixels) and average its answers resized back with the others' (logits and the verdict in
        logit space, every scale one share), more scales for the price of more pixels; it needs the encoder, so it
        is not for members that share one. ``scale_use``: what the other scales add: ``"both"``, ``"mask"`` (their
        masks and attention; the verdict stays the input scale's) or ``"verdict"`` (their verdicts only: the mask,
        hence every per-image ranking, stays). ``relative`` adds
        :class:`~inharmony.layers.relative.RelativeHead` (each pixel's deviation from the rest of the image, with
        logits of its own returned as ``"relative_logits"``) joining the logits through ``relative_mix`` (from 0).
        ``verdict_lowlevel`` adds to the verdict a term from colour and the encoder's first three maps in and around
        the candidate (:mod:`inharmony.layers.verdict_lowlevel`, last layer from 0); ``"own"``: computed by a copy
        of the encoder's first three stages that learns for the verdict alone. ``shift_head`` adds a training-only
        head that regresses each pixel's colour change from the maps the verdict pools (``"colour_shift"`` in
        training; :mod:`inharmony.layers.shift_head`), for ``loss.colour_shift``."""
        super().__init__()
        self.flip_test = bool(flip_test)
        self.shift_test = int(shift_test)
        if self.shift_test < 0:
            raise ValueError(f"shift_test must be a number of pixels ≥ 0, got {shift_test}")
        factors = list(scale_test) if isinstance(scale_test, (list, tuple)) else [scale_test] if scale_test else []
        for f in factors:
            if not isinstance(f, (int, float)) or not SCALE_RANGE[0] <= f <= SCALE_RANGE[1] or f == 1:
                raise ValueError(
                    f"scale_test: 0 (off) or factors in [{SCALE_RANGE[0]:g}, {SCALE_RANGE[1]:g}] other than 1, "
                    f"got {scale_test}"
                )
        self.test_scales = tuple(float(f) for f in factors)
        self.scale_test = list(self.test_scales) if isinstance(scale_test, (list, tuple)) else float(scale_test)
        if scale_use not in SCALE_USES:
            raise ValueError(f"DIRL scale_use must be one of {SCALE_USES}, got {scale_use!r}")
        if scale_use != "both" and not verdict:
            raise ValueError(f"DIRL scale_use={scale_use!r} splits mask and verdict: it needs verdict=True")
        self.scale_use = scale_use
        for name, value, valid in (
            ("fusion", fusion, ("bfi", "skip")),
            ("attention", attention, ("mda", "none")),
            ("decoder", decoder, ("ggd", "plain")),
            ("colour", colour, ("none", "stream", "stream+unet")),
            ("mapper", mapper, ("none", "ihdrnet")),
            ("verdict", verdict, (False, True, "contrast")),
            ("verdict_lowlevel", verdict_lowlevel, (False, True, "own")),
        ):
            if value not in valid:
                raise ValueError(f"DIRL {name} must be one of {valid}, got {value!r}")
        if verdict_lowlevel and not verdict:
            raise ValueError("DIRL verdict_lowlevel needs a verdict head (verdict=True)")
        if shift_head and not verdict:
            raise ValueError("DIRL shift_head reads the verdict head's maps: it needs verdict=True")
        if mapper == "ihdrnet":
            self.colour_mapper = ColourMapper()
        self.encoder = create_encoder(encoder, weights=encoder_weights)
        c0, c1, c2, c3, c4 = self.encoder.out_channels
        d = decoder_channels
        # F0 (full resolution) only feeds the auxiliary loss through MDA's A0: without MDA it is not built.
        self.use_f0 = attention == "mda"
        if fusion == "bfi":
            blocks = [BFITwo(c0, c1, d, mode="h2l")] if self.use_f0 else []
            blocks += [
                BFIThree(c0, c1, c2, d),
                BFIThree(c1, c2, c3, d),
                BFIThree(c2, c3, c4, d),
                BFITwo(c3, c4, d, mode="l2h"),
            ]
            self.bfi = nn.ModuleList(blocks)
        else:
            levels = (c0, c1, c2, c3, c4) if self.use_f0 else (c1, c2, c3, c4)
            self.skip = nn.ModuleList(
                nn.Sequential(nn.Conv2d(c, d, 3, padding=1, bias=False), nn.BatchNorm2d(d)) for c in levels
            )
        self.mda = nn.ModuleList(MDA(d) for _ in range(5)) if attention == "mda" else None
        self.decoder = GGDDecoder(d, num_blocks=3) if decoder == "ggd" else PlainDecoder(d, num_blocks=3)
        if colour in ("stream", "stream+unet"):
            self.colour_stream = ColourStream(d)
            self.colour_head = ColourHead(d, d, d)
        if colour == "stream+unet":
            self.colour_unet = ColourUNet()
            self.colour_unet_head = ColourHead(self.colour_unet.out_channels, d, self.colour_unet.out_channels)
            # how much of the branch's own answer (learned alone, then grafted) joins the logits: starts at none
            self.colour_unet_mix = nn.Parameter(torch.zeros(()))
        if relative:
            self.relative_head = RelativeHead((d, d, d) if hasattr(self, "colour_stream") else (d, d))
            self.relative_mix = nn.Parameter(torch.zeros(()))
        if verdict:
            # candidate region vs the rest, in the 1/8 and deepest fused features and the colour stream's
            self.verdict_head = VerdictHead(
                (d, d, d) if hasattr(self, "colour_stream") else (d, d), contrast_only=verdict == "contrast"
            )
        if verdict_lowlevel:
            if verdict_lowlevel == "own" and not hasattr(self.encoder, "stages"):
                raise ValueError(f"DIRL verdict_lowlevel='own' needs an encoder with stages, not {encoder!r}")
            own = None
            if verdict_lowlevel == "own":  # the encoder itself, cut after its first three stages
                own = copy.deepcopy(self.encoder)
                own.stages = own.stages[:3]
            self.verdict_lowlevel = LowLevelVerdict((c0, c1, c2), encoder=own)
        if shift_head:
            self.shift_head = ShiftHead((d, d, d) if hasattr(self, "colour_stream") else (d, d))

    def fill_fresh(self, fresh: list[str]) -> list[str]:
        """After a warm start that left ``fresh`` weights at their initial values: copy the encoder's first stages
        into the verdict's own copy of them when the start had none; returns the weights still fresh."""
        low = getattr(self, "verdict_lowlevel", None)
        prefix = "verdict_lowlevel.encoder."
        if low is None or low.encoder is None or not any(k.startswith(prefix) for k in fresh):
            return fresh
        low.encoder.stages.load_state_dict(self.encoder.stages[:3].state_dict())
        return [k for k in fresh if not k.startswith(prefix)]

    def fuse(self, e: list[Tensor]) -> list[Tensor | None]:
        """Five fused maps F0..F4 (F0 is None when it is not built)."""
        if hasattr(self, "skip"):
            out = [proj(f) for proj, f in zip(self.skip, e if self.use_f0 else e[1:])]
            return out if self.use_f0 else [None, *out]
        blocks = list(self.bfi)
        f0 = blocks.pop(0)(e[0], e[1]) if self.use_f0 else None
        return [
            f0,
            blocks[0](e[0], e[1], e[2]),
            blocks[1](e[1], e[2], e[3]),
            blocks[2](e[2], e[3], e[4]),
            blocks[3](e[3], e[4]),
        ]

    def forward(self, x: Tensor, encoded: list[Tensor] | None = None) -> dict[str, Tensor | list[Tensor]]:
        """``encoded``: the encoder's maps of ``x`` as :meth:`encode` returns them, computed elsewhere (models
        that share one encoder, :class:`inharmony.models.ensemble.Ensemble`); ``None``: computed here."""
        if self.viewing():
            return self.forward_views(x, encoded)
        return self.forward_once(x, encoded)

    def viewing(self) -> bool:
        """Whether :meth:`forward` runs the test-time views (evaluation mode with a mirrored, moved or resized view)."""
        return bool(self.flip_test or self.shift_test or self.test_scales) and not self.training

    def test_views(self) -> list[tuple[int, bool]]:
        """The evaluation-mode views as (shift in pixels, mirrored): the image itself first."""
        shifts = [0, self.shift_test] if self.shift_test else [0]
        return [(s, mirrored) for s in shifts for mirrored in ((False, True) if self.flip_test else (False,))]

    def view_batch(self, x: Tensor) -> Tensor:
        """Every view of :meth:`test_views` of ``x``, in that order, as one batch."""
        return torch.cat([_view(x, s, m) for s, m in self.test_views()], dim=0)

    def encode(self, x: Tensor) -> list[Tensor]:
        """The encoder's five maps of the batch :meth:`forward` runs for ``x`` (every test-time view when
        viewing), colour mapping included: what ``forward(x, encoded)`` takes."""
        batch = self.view_batch(x) if self.viewing() else x
        if hasattr(self, "colour_mapper"):
            batch = self.colour_mapper(batch)
        return list(self.encoder(batch))

    def forward_views(self, x: Tensor, encoded: list[Tensor] | None = None) -> dict[str, Tensor | list[Tensor]]:
        """Every view of :meth:`test_views` in one batch; each map is moved back onto the image and the views
        averaged (logits and the verdict in logit space, attention as probabilities), then the gate is applied
        again. With ``scale_test`` the same at every other scale, and the scales averaged alike (what
        ``scale_use`` names of them)."""
        merged = self.forward_same_scale(x, encoded)
        if not self.test_scales:
            return merged
        size = x.shape[-2:]
        others = [
            self.forward_same_scale(F.interpolate(x, size=scaled_size(size, f), mode="bilinear", align_corners=False))
            for f in self.test_scales
        ]

        def mean(key: str, index: int | None = None) -> Tensor:
            maps = [o[key] if index is None else o[key][index] for o in (merged, *others)]
            if maps[0].dim() == 4:
                maps = [maps[0]] + [F.interpolate(t, size=size, mode="bilinear", align_corners=False) for t in maps[1:]]
            return torch.stack(maps).mean(0)

        out = dict(merged)
        if self.scale_use in ("both", "mask"):
            out["attention"] = [mean("attention", i) for i in range(len(merged["attention"]))]
            key = "mask_logits" if "verdict" in merged else "logits"
            out[key] = mean(key)
        if "verdict" in merged:
            if self.scale_use in ("both", "verdict"):
                out["verdict"] = mean("verdict")
            out["logits"] = gated_logits(out["mask_logits"], out["verdict"])
        return out

    def forward_same_scale(self, x: Tensor, encoded: list[Tensor] | None = None) -> dict[str, Tensor | list[Tensor]]:
        """The views of :meth:`test_views` at the input's own scale, averaged (see :meth:`forward_views`)."""
        views = self.test_views()
        out = self.forward_once(self.view_batch(x), encoded)

        def average(t: Tensor) -> Tensor:
            parts = t.reshape(len(views), -1, *t.shape[1:])
            if t.dim() == 4:
                return torch.stack([_unview(p, s, m) for p, (s, m) in zip(parts, views)]).mean(0)
            return parts.mean(0)

        merged = {"attention": [average(a) for a in out["attention"]]}
        if "verdict" in out:
            merged["mask_logits"], merged["verdict"] = average(out["mask_logits"]), average(out["verdict"])
            merged["logits"] = gated_logits(merged["mask_logits"], merged["verdict"])
        else:
            merged["logits"] = average(out["logits"])
        return merged

    def forward_once(self, x: Tensor, encoded: list[Tensor] | None = None) -> dict[str, Tensor | list[Tensor]]:
        size = x.shape[-2:]
        if hasattr(self, "colour_mapper"):
            x = self.colour_mapper(x)
        if encoded is None:
            encoded = self.encoder(x)
        fused = self.fuse(encoded)
        if self.mda is not None:
            refined, attention = zip(*(mda(f) for mda, f in zip(self.mda, fused)))
            attention = [F.interpolate(a, size=size, mode="bilinear", align_corners=False) for a in attention]
        else:
            refined, attention = fused, []
        # F'_0 feeds only the auxiliary loss through its attention map, as in the reference.
        logits = self.decoder(list(refined[1:]))
        if logits.shape[-2:] != size:
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        maps, colour = [refined[2], refined[4]], []
        if hasattr(self, "colour_stream"):
            colour = [self.colour_stream(x)]
            correction = self.colour_head(colour[0], refined[2])
            logits = logits + F.interpolate(correction, size=size, mode="bilinear", align_corners=False)
            maps += colour
        if hasattr(self, "colour_unet"):
            features = self.colour_unet(x)
            correction = self.colour_unet_head(features, refined[2])
            correction = correction + self.colour_unet_mix * self.colour_unet.mask_logits(features)
            logits = logits + F.interpolate(correction, size=size, mode="bilinear", align_corners=False)
        extra = {}
        if hasattr(self, "relative_head"):
            relative = self.relative_head([refined[1], refined[2], *colour], torch.sigmoid(logits))
            extra["relative_logits"] = F.interpolate(relative, size=size, mode="bilinear", align_corners=False)
            logits = logits + self.relative_mix * extra["relative_logits"]
        if hasattr(self, "verdict_head"):
            verdict = self.verdict_head(torch.sigmoid(logits), maps)
            if hasattr(self, "verdict_lowlevel"):
                verdict = verdict + self.verdict_lowlevel(torch.sigmoid(logits), x, list(encoded[:3]))
            if self.training:  # the maps the head pooled, for a loss that asks it about the true region
                extra["verdict_maps"] = maps
                if hasattr(self, "shift_head"):
                    extra["colour_shift"] = self.shift_head(maps)
            return {
                "logits": gated_logits(logits, verdict),
                "mask_logits": logits,
                "verdict": verdict,
                "attention": attention,
                **extra,
            }
        return {"logits": logits, "attention": attention, **extra}


class PlainDecoder(nn.Module):
    """Ablation of GGD: a top-down decoder (upsample, concatenate the skip, conv-BN-ReLU), no context stream."""

    def __init__(self, channels: int = 32, num_blocks: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(2 * channels, channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for _ in range(num_blocks)
        )
        self.head = nn.Conv2d(channels, 1, 1)

    def forward(self, features: list[Tensor]) -> Tensor:
        up = features[-1]
        for block, skip in zip(self.blocks, reversed(features[:-1])):
            up = block(
                torch.cat([F.interpolate(up, size=skip.shape[-2:], mode="bilinear", align_corners=True), skip], 1)
            )
        h, w = up.shape[-2:]
        return self.head(F.interpolate(up, size=(2 * h, 2 * w), mode="bilinear", align_corners=True))


def _moved(t: Tensor, by: int, mode: str) -> Tensor:
    """``out[..., y, x] = t[..., y - by, x - by]``: ``t`` moved ``by`` pixels down and right (up and left when
    negative), the pixels from outside ``t`` filled by ``mode`` padding."""
    if by == 0:
        return t
    p, (h, w) = abs(by), t.shape[-2:]
    return F.pad(t, (p, p, p, p), mode=mode)[..., p - by : p - by + h, p - by : p - by + w]


SCALE_RANGE = (0.25, 4.0)  # the factors an input may be resized by (scale_test here, train.scales in training)


def scaled_size(size: tuple[int, int], factor: float) -> list[int]:
    """``size`` times ``factor``, each side rounded to a multiple of 32 pixels (at least 32)."""
    return [max(32, round(n * factor / 32) * 32) for n in size]


def _view(x: Tensor, shift: int, mirrored: bool) -> Tensor:
    """A test-time view of a batch: moved by ``shift`` pixels down and right (edges mirrored), then mirrored."""
    x = _moved(x, shift, "reflect")
    return x.flip(-1) if mirrored else x


def _unview(t: Tensor, shift: int, mirrored: bool) -> Tensor:
    """A map of a view moved back onto the image (edges replicated where the view had no pixels)."""
    return _moved(t.flip(-1) if mirrored else t, -shift, "replicate")
