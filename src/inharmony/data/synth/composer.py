"""One composite and its authentic twin from one photo crop: a real region gets an iHarmony4 kind of change.

``make_pair`` is a pure, seeded function: the same photo, segmentations, reference pixels and generator state
give the same pair. The visible change is controlled in CIE76 ΔE (mean over the region): a target is drawn
log-uniformly from ``SynthConfig.delta_e`` and the change is blended in (or extrapolated, at most 3×) with the
factor that reaches it; a change too weak to reach ``delta_e[0]`` even so is drawn again (``tries`` times, the
second half as a two-edit retouch). Composite and twin are then JPEG-compressed
with the same quality, so compression traces say nothing about the label.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image
from scipy import ndimage

from inharmony.data.synth import changes
from inharmony.data.synth.paste import paste_object
from inharmony.data.synth.regions import annotator_outline, feather, segment_region, shape_region

MAX_GAIN = 3.0  # a drawn change may be extrapolated up to this factor to reach its target ΔE
KINDS = (*changes.KINDS, "paste")  # paste: an object from another photo (data.synth.paste), not an in-place change


@dataclass(frozen=True)
class SynthConfig:
    """Rules of the generator. ``kinds``: share of each kind of change; ``area``: region area bounds (le50);
    ``typical_area``: where most regions fall; ``delta_e``: the visible change range (min, max mean ΔE);
    ``shape_share``: share of geometric shapes instead of real segments; ``object_share``: share of object-map
    regions for photos without human segments; ``outline_share``: share of regions (in place or pasted) traced
    as an annotator's polygon (:func:`~inharmony.data.synth.regions.annotator_outline`) instead of following
    the segment exactly; ``jpeg_quality``: (min, max) or None; ``min_gain``: an in-place change must make the
    region stand out from a ring around it by at least this much more than in the twin (``contrast_gain``, CIE76
    distance of the mean Lab colours; up to ``tries`` draws, the one with the largest gain kept), or None;
    ``paste_harmonise``: share of pasted objects then moved part of the way (a share drawn in
    ``harmonise_amount``) toward the colours of the rest of the photo by one of the transfer methods, as a
    harmonisation tool would leave a copy-paste composite (:func:`harmonise_pasted`); ``object_reference``:
    share of object-map regions changed by the ``transfer`` kind that take their statistics from another photo's
    object (``make_pair``'s ``object_reference``) rather than from any region of it: HCOCO transferred an object's
    colours from an object of the same category, not from a wall or the sky."""

    kinds: dict[str, float] = field(default_factory=lambda: {"transfer": 0.5, "retouch": 0.3, "lighting": 0.2})
    area: tuple[float, float] = (0.01, 0.5)
    typical_area: tuple[float, float] = (0.05, 0.3)
    typical_share: float = 0.8
    delta_e: tuple[float, float] = (4.0, 40.0)
    shape_share: float = 0.03
    object_share: float = 0.5
    feather_share: float = 0.5
    outline_share: float = 0.0
    jpeg_quality: tuple[int, int] | None = (75, 95)
    tries: int = 6
    min_gain: float | None = None
    paste_harmonise: float = 0.0
    harmonise_amount: tuple[float, float] = (0.2, 0.8)
    object_reference: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds or min(self.kinds.values()) < 0 or sum(self.kinds.values()) <= 0:
            raise ValueError(f"kinds must give non-negative shares to some of {KINDS}, got {self.kinds}")
        lo, hi = self.area
        if not 0 < lo < hi <= 1:
            raise ValueError(f"area must satisfy 0 < min < max <= 1, got {self.area}")
        if not 0 < self.delta_e[0] <= self.delta_e[1]:
            raise ValueError(f"delta_e must satisfy 0 < min <= max, got {self.delta_e}")
        if not 0 <= self.outline_share <= 1:
            raise ValueError(f"outline_share must be in [0, 1], got {self.outline_share}")
        if not 0 <= self.paste_harmonise <= 1:
            raise ValueError(f"paste_harmonise must be in [0, 1], got {self.paste_harmonise}")
        if not 0 <= self.harmonise_amount[0] <= self.harmonise_amount[1] <= 1:
            raise ValueError(f"harmonise_amount must satisfy 0 <= min <= max <= 1, got {self.harmonise_amount}")
        if not 0 <= self.object_reference <= 1:
            raise ValueError(f"object_reference must be in [0, 1], got {self.object_reference}")


@dataclass
class Pair:
    """``composite`` and ``twin`` (its authentic version) H×W×3 uint8, ``mask`` H×W uint8 0/255, ``info`` the
    kind, method, region source and measured change."""

    composite: np.ndarray
    twin: np.ndarray
    mask: np.ndarray
    info: dict


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def target_area(rng: np.random.Generator, cfg: SynthConfig) -> float:
    lo, hi = cfg.typical_area if rng.random() < cfg.typical_share else cfg.area
    return _log_uniform(rng, max(lo, cfg.area[0]), min(hi, cfg.area[1]))


def human_region(maps: list[np.ndarray], rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray | None:
    """A segment of one annotator's label map (sometimes joined with a neighbour) near a drawn target area."""
    labels = maps[int(rng.integers(len(maps)))]
    ids, counts = np.unique(labels, return_counts=True)
    frac = counts / labels.size
    ok = (frac >= cfg.area[0]) & (frac <= cfg.area[1])
    if not ok.any():
        return None
    target = target_area(rng, cfg)
    weight = np.where(ok, np.exp(-3 * np.abs(np.log(np.maximum(frac, 1e-6) / target))), 0.0)
    pick = ids[rng.choice(len(ids), p=weight / weight.sum())]
    mask = labels == pick
    if rng.random() < 0.25:  # a neighbouring segment too: an object with its part, or two adjacent surfaces
        ring = ndimage.binary_dilation(mask, iterations=2) & ~mask
        near = [i for i in np.unique(labels[ring]) if i != pick]
        if near:
            joined = mask | (labels == near[int(rng.integers(len(near)))])
            if joined.mean() <= cfg.area[1]:
                mask = joined
    return mask


def pick_region(
    image: np.ndarray,
    maps: list[np.ndarray],
    rng: np.random.Generator,
    cfg: SynthConfig,
    objects: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, str]:
    """A bool H×W region within ``cfg.area`` and where it came from (``human``, ``object``, ``felzenszwalb``,
    ``shape``). Without human maps, an object map (when given) is used ``cfg.object_share`` of the time."""
    h, w = image.shape[:2]
    if rng.random() >= cfg.shape_share:
        use_objects = bool(objects) and not maps and rng.random() < cfg.object_share
        for _ in range(4):
            if use_objects:
                mask, source = human_region(objects, rng, cfg), "object"
            elif maps:
                mask, source = human_region(maps, rng, cfg), "human"
            else:
                mask, source = segment_region(image, rng, target_area(rng, cfg), work_side=128), "felzenszwalb"
            if mask is not None and cfg.area[0] <= mask.mean() <= cfg.area[1]:
                return mask, source
    for _ in range(8):
        mask = shape_region(h, w, rng, target_area(rng, cfg))
        if cfg.area[0] <= mask.mean() <= cfg.area[1]:
            return mask, "shape"
    return shape_region(h, w, rng, float(np.mean(cfg.area))), "shape"


def outlined(region: np.ndarray, rng: np.random.Generator, cfg: SynthConfig) -> tuple[np.ndarray, bool]:
    """``region`` traced as an annotator's polygon ``cfg.outline_share`` of the time (when the trace keeps the
    area within ``cfg.area``), and whether it was. Draws nothing from ``rng`` when the share is 0."""
    if cfg.outline_share <= 0 or rng.random() >= cfg.outline_share:
        return region, False
    traced = annotator_outline(region, rng)
    if not cfg.area[0] <= traced.mean() <= cfg.area[1]:
        return region, False
    return traced, True


def mean_delta_e(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean CIE76 ΔE between float RGB images ``a`` and ``b`` ([0, 1]) over the bool mask ``where``."""
    if not where.any():
        return 0.0
    return float(np.linalg.norm(changes._lab(a[where]) - changes._lab(b[where]), axis=1).mean())


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def lab_shifts(lab: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Mean luminance shift ΔL and chroma shift ΔC* of N×3 Lab pixels against reference Lab pixels."""
    return {
        "delta_l": round(float(lab[:, 0].mean() - reference[:, 0].mean()), 2),
        "delta_chroma": round(float(np.hypot(*lab[:, 1:].T).mean() - np.hypot(*reference[:, 1:].T).mean()), 2),
    }


def finish_pair(comp, twin, region, info, rng, cfg) -> Pair:
    """JPEG-compress composite and twin with one drawn quality (when ``cfg.jpeg_quality``) and pack the pair."""
    if cfg.jpeg_quality is not None:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        comp, twin = jpeg(comp, q), jpeg(twin, q)
        info["jpeg_quality"] = q
    return Pair(comp, twin, region.astype(np.uint8) * 255, info)


def _draw_change(kind, img, touched, reference, rng):
    """(base, changed, method): the rest of the composite comes from ``base``, the region from ``changed``."""
    if kind == "transfer":
        method = changes.TRANSFER_METHODS[int(rng.integers(len(changes.TRANSFER_METHODS)))]
        changed = img.copy()
        changed[touched] = changes.transfer(img[touched], reference, method, rng)
        return img, changed, method
    if kind == "retouch":
        base = changes.apply_edit(img, changes.random_edit(rng, float(rng.uniform(0.0, 0.7))))
        return base, changes.apply_edit(img, changes.random_edit(rng, 1.0)), "two_edits"
    return img, changes.lighting(img, rng), "time_of_day"


def make_pair(
    image: np.ndarray,
    rng: np.random.Generator,
    maps: list[np.ndarray] | None = None,
    reference: np.ndarray | None = None,
    cfg: SynthConfig | None = None,
    objects: list[np.ndarray] | None = None,
    donor: Callable[[], tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]] | None = None,
    object_reference: np.ndarray | None = None,
) -> Pair:
    """Composite + authentic twin from an H×W×3 uint8 photo crop.

    ``maps``: human label maps of the crop (H×W ints) or none (regions then come from Felzenszwalb segments);
    ``reference``: N×3 pixels in [0, 1] of another photo's region, needed by the ``transfer`` kind (without it a
    ``retouch`` is made instead); ``objects``: object maps of the crop, for photos without human maps;
    ``donor()``: another photo's crop of the same size with its human and object maps, for the ``paste`` kind
    (without it a ``transfer`` is made instead); ``object_reference``: N×3 pixels of another photo's object, the
    reference instead of ``reference`` for ``cfg.object_reference`` of the object-map regions.
    """
    cfg = cfg or SynthConfig()
    img = image.astype(np.float64) / 255.0
    region, source = pick_region(image, maps or [], rng, cfg, objects)
    region, traced = outlined(region, rng, cfg)
    alpha = feather(region, rng) if rng.random() < cfg.feather_share else region.astype(np.float32)
    names = list(cfg.kinds)
    shares = np.array([cfg.kinds[k] for k in names], dtype=np.float64)
    kind = names[rng.choice(len(names), p=shares / shares.sum())]
    if kind == "paste":
        pair = paste_pair(image, donor, rng, cfg)
        if pair is not None:
            return pair
        kind = "transfer"  # no donor, or its object did not fit
    reference_source = "any"
    if kind == "transfer" and source == "object" and cfg.object_reference > 0 and object_reference is not None:
        if len(object_reference) >= 16 and rng.random() < cfg.object_reference:
            reference, reference_source = object_reference, "object"
    if kind == "transfer" and (reference is None or len(reference) < 16):
        kind = "retouch"
    ring = ring_around(region)
    best = None
    for _ in range(max(1, cfg.tries) if cfg.min_gain is not None else 1):
        drawn = change_in_place(img, region, alpha, kind, reference, rng, cfg)
        gain = contrast_gain(drawn[0], drawn[1], region, ring)
        if best is None or gain > best[-1]:
            best = (*drawn, gain)
        if cfg.min_gain is None or gain >= cfg.min_gain:
            break
    comp, twin, kind, method, gain = best
    c, r = comp[region] / 255.0, twin[region] / 255.0
    lab_c, lab_r = changes._lab(c), changes._lab(r)
    info = {
        "kind": kind,
        "method": method,
        "region_source": source,
        "reference": reference_source if kind == "transfer" else "",
        "area": round(float(region.mean()), 4),
        "delta_e": round(float(np.linalg.norm(lab_c - lab_r, axis=1).mean()), 2),
        **lab_shifts(lab_c, lab_r),
        "contrast_gain": round(gain, 2),
        "feathered": bool((alpha % 1).any()),
        "outlined": traced,
    }
    return finish_pair(comp, twin, region, info, rng, cfg)


def ring_around(region: np.ndarray, width: float = 0.05) -> np.ndarray:
    """The pixels within ``width`` × the long side (at least 3 px) outside an H×W bool region."""
    reach = max(3.0, width * max(region.shape))
    return ~region & (ndimage.distance_transform_edt(~region) <= reach)


def contrast_gain(comp: np.ndarray, twin: np.ndarray, region: np.ndarray, ring: np.ndarray) -> float:
    """How much more the region stands out from its ring in ``comp`` than in ``twin`` (uint8 H×W×3): the change
    of ‖mean Lab(region) − mean Lab(ring)‖ (CIE76). Negative when the change made the region blend in more."""
    if not region.any() or not ring.any():
        return 0.0

    def contrast(image: np.ndarray) -> float:
        inside = changes._lab(image[region] / 255.0).mean(0)
        return float(np.linalg.norm(inside - changes._lab(image[ring] / 255.0).mean(0)))

    return contrast(comp) - contrast(twin)


def change_in_place(img, region, alpha, kind, reference, rng, cfg) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(composite, twin, kind, method): one drawn change of ``kind`` blended into ``region`` (float RGB image,
    bool region, alpha its feathered weight) at a drawn target ΔE; uint8 images."""
    target = _log_uniform(rng, *cfg.delta_e) if cfg.delta_e[1] > cfg.delta_e[0] else cfg.delta_e[0]
    touched = alpha > 0
    best = None
    for attempt in range(max(1, cfg.tries)):
        if attempt >= cfg.tries // 2 and kind != "retouch":  # e.g. a reference much like the region itself
            kind = "retouch"
        base, changed, method = _draw_change(kind, img, touched, reference, rng)
        full = mean_delta_e(changed, base, region)
        if best is None or full > best[4]:
            best = (kind, base, changed, method, full)
        if full >= cfg.delta_e[0]:
            break
    kind, base, changed, method, full = best
    t = min(MAX_GAIN, target / max(full, 1e-6))  # a change weaker than the target is amplified
    d_region, b_region = changed[region] - base[region], base[region]
    for _ in range(3):  # ΔE is not linear in the blend factor (Lab, clipping): a few secant corrections
        reached = float(
            np.linalg.norm(changes._lab(np.clip(b_region + t * d_region, 0, 1)) - changes._lab(b_region), axis=1).mean()
        )
        if reached <= 0 or abs(reached - target) < 0.05 * target:
            break
        t = min(MAX_GAIN, t * target / reached)
    a = (t * alpha)[..., None]
    twin = np.rint(base * 255).clip(0, 255).astype(np.uint8)
    comp = np.rint((base + a * (changed - base)) * 255).clip(0, 255).astype(np.uint8)
    comp = np.where(touched[..., None], comp, twin)
    return comp, twin, kind, method


def paste_pair(
    image: np.ndarray,
    donor: Callable[[], tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]] | None,
    rng: np.random.Generator,
    cfg: SynthConfig,
) -> Pair | None:
    """A copy-paste composite (an object of the donor photo in ``image``) whose twin is the donor photo itself."""
    if donor is None:
        return None
    d_image, d_maps, d_objects = donor()
    if d_image.shape != image.shape:
        return None
    region, source = pick_region(d_image, d_maps, rng, replace(cfg, shape_share=0.0, object_share=1.0), d_objects)
    region, traced = outlined(region, rng, cfg)  # the cut-out then carries slivers of the donor's background
    feathered = rng.random() < cfg.feather_share
    pasted = paste_object(image, d_image, region, target_area(rng, cfg), rng, feathered)
    if pasted is None or not cfg.area[0] <= pasted[1].mean() <= cfg.area[1]:
        return None
    comp, landed = pasted
    ring = ndimage.binary_dilation(landed, iterations=max(2, image.shape[0] // 32)) & ~landed
    harmonised = {}
    if cfg.paste_harmonise > 0 and rng.random() < cfg.paste_harmonise:
        comp, harmonised = harmonise_pasted(comp, landed, rng, cfg.harmonise_amount)
    inside = comp[landed] / 255.0
    around = comp[ring] / 255.0 if ring.any() else inside
    lab_in, lab_out = changes._lab(inside), changes._lab(around)
    info = {
        "kind": "paste",
        "method": "copy_paste",
        "region_source": source,
        "area": round(float(landed.mean()), 4),
        # no unchanged version of a pasted object exists: ΔE, ΔL and ΔC* compare it with its surroundings
        "delta_e": round(float(np.linalg.norm(lab_in.mean(0) - lab_out.mean(0))), 2),
        **lab_shifts(lab_in, lab_out),
        "feathered": feathered,
        "outlined": traced,
        **harmonised,
    }
    twin = d_image
    return finish_pair(comp, twin, landed, info, rng, cfg)


def harmonise_pasted(
    comp: np.ndarray, landed: np.ndarray, rng: np.random.Generator, amount: tuple[float, float], count: int = 4096
) -> tuple[np.ndarray, dict]:
    """``comp`` (uint8) with the pasted object's pixels (``landed``) moved a drawn share of the way to a transfer
    method's answer for the statistics of (up to ``count`` drawn) pixels of the photo around it, and what was
    drawn (for the manifest). With too few pixels either side nothing changes."""
    outside = comp[~landed]
    if landed.sum() < 16 or len(outside) < 16:
        return comp, {}
    method = changes.TRANSFER_METHODS[int(rng.integers(len(changes.TRANSFER_METHODS)))]
    share = float(rng.uniform(*amount))
    ref = outside[rng.choice(len(outside), size=min(count, len(outside)), replace=False)] / 255.0
    src = comp[landed] / 255.0
    moved = changes.transfer(src, ref, method, rng)
    out = comp.copy()
    out[landed] = np.rint(((1 - share) * src + share * moved) * 255.0).clip(0, 255).astype(np.uint8)
    return out, {"harmonised": method, "harmonise_share": round(share, 3)}


def _segment_pixels(
    image: np.ndarray, maps: list[np.ndarray], rng: np.random.Generator, min_share: float, min_label: int | None = None
) -> np.ndarray | None:
    """The pixels of one label (covering ≥ ``min_share`` of the map, ≥ ``min_label`` when given) of a random map of
    ``maps``, or None where no label qualifies."""
    labels = maps[int(rng.integers(len(maps)))]
    ids, counts = np.unique(labels, return_counts=True)
    keep = counts / labels.size >= min_share
    big = ids[keep if min_label is None else keep & (ids >= min_label)]
    return image[labels == big[int(rng.integers(len(big)))]] if len(big) else None


def _sample(pixels: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    pixels = pixels.reshape(-1, 3) / 255.0
    return pixels[rng.choice(len(pixels), size=min(count, len(pixels)), replace=False)]


def region_pixels(image: np.ndarray, maps: list[np.ndarray], rng: np.random.Generator, count: int = 4096) -> np.ndarray:
    """N×3 pixels in [0, 1] of a region of ``image`` (a human segment of ≥ 2 % where there are maps, else a
    random window): the colour statistics of "another photo's object" for the transfer kind."""
    h, w = image.shape[:2]
    pixels = _segment_pixels(image, maps, rng, 0.02) if maps else None
    if pixels is None:
        ch, cw = max(4, int(h * rng.uniform(0.2, 0.6))), max(4, int(w * rng.uniform(0.2, 0.6)))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        pixels = image[top : top + ch, left : left + cw]
    return _sample(pixels, rng, count)


def object_pixels(
    image: np.ndarray, objects: list[np.ndarray], rng: np.random.Generator, count: int = 4096
) -> np.ndarray | None:
    """N×3 pixels in [0, 1] of one object of ``image`` (a component ≥ 1 % of an object map: labels 2…, label 1 is
    the background), or None where its maps mark no object: the same-kind reference of an object region."""
    pixels = _segment_pixels(image, objects, rng, 0.01, min_label=2) if objects else None
    return None if pixels is None else _sample(pixels, rng, count)
