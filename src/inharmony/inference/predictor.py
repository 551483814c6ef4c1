"""``Predictor``: image in (path, bytes, PIL or array, any size and mode) → probability map at its size.

Two backends behind one class: a torch model (``.safetensors``) or an ONNX Runtime session (``.onnx``). Images
travel as numpy arrays, and the ONNX path never imports torch, so it starts fast. Maps are upsampled to the
image size lazily (bilinear, PIL), in whichever thread first reads them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inharmony.imageio import DEFAULT_MAX_PIXELS, read_image, to_rgb
from inharmony.verdict import Calibration, image_score

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = "default"
# ImageNet statistics (as inharmony.data.transforms), kept here so that the ONNX path needs no torch
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1) * 255.0
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1) * 255.0

ImageLike = str | Path | bytes | Image.Image | np.ndarray


BACKENDS = ("auto", "torch", "onnx")


def shipped_models(backend: str = "torch") -> dict[str, Path]:
    """Model files that ship inside the package, by name (file stem): ``.safetensors`` weights for the torch
    backend, ``.onnx`` graphs for ONNX Runtime."""
    suffix = ".onnx" if backend == "onnx" else ".safetensors"
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob(f"*{suffix}"))}


def onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def pick_backend(source: str | Path, backend: str = "auto") -> str:
    """``auto``: a shipped model runs on ONNX Runtime when its graph ships and onnxruntime is installed (fast start,
    no torch), else on torch; a file runs on what its suffix says."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if str(source).endswith(".onnx"):
        return "onnx"
    if backend != "auto":
        return backend
    shipped = str(source) in shipped_models("onnx") and onnxruntime_available()
    return "onnx" if shipped else "torch"


def resolve_model_path(source: str | Path = DEFAULT_MODEL, backend: str = "torch") -> Path:
    """A shipped model name (``"default"``) or a path to a model file (``.safetensors``, or ``.onnx``)."""
    shipped = shipped_models(backend)
    if str(source) in shipped:
        return shipped[str(source)]
    path = Path(source)
    if path.is_file():
        return path
    if str(source) == DEFAULT_MODEL:
        raise FileNotFoundError(f"no default model is shipped in {WEIGHTS_DIR}; pass a model file (--model PATH)")
    names = ", ".join(shipped) or "none"
    raise FileNotFoundError(f"model {str(source)!r} is neither a file nor a shipped model (shipped: {names})")


def pick_device(device: Any = "auto") -> Any:
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def upsample(low: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An S×S float map → H×W float32 in [0, 1], bilinear (PIL; releases the GIL, so writer threads overlap)."""
    h, w = size
    if low.shape == (h, w):
        return np.array(low, dtype=np.float32)
    out = np.asarray(Image.fromarray(np.asarray(low, dtype=np.float32), mode="F").resize((w, h), Image.BILINEAR))
    return np.clip(out, 0.0, 1.0)  # convex weights keep [0, 1] up to rounding


@dataclass
class Prediction:
    """One image's result. ``probability``: H×W float32 in [0, 1] at the input's size; ``attention``: the five
    H×W MDA maps when asked for, else None; ``candidate``: for a model with a verdict head, where the region
    would be if the image has one (the localiser's map before the verdict's gate; ``probability`` is this map
    times the verdict), else None; ``calibration``: the model's, when it has one (the score is then a
    probability, and a threshold on it maps back to one raw threshold for the score and the pixels alike). All are
    computed from the network-resolution maps on first use."""

    low: np.ndarray  # S×S probabilities at the network resolution
    size: tuple[int, int]  # (H, W) of the input image
    attention_low: list[np.ndarray] | None = field(default=None, repr=False)
    candidate_low: np.ndarray | None = field(default=None, repr=False)
    calibration: Calibration | None = field(default=None, repr=False)

    @functools.cached_property
    def probability(self) -> np.ndarray:
        return upsample(self.low, self.size)

    @functools.cached_property
    def attention(self) -> list[np.ndarray] | None:
        if self.attention_low is None:
            return None
        return [upsample(a, self.size) for a in self.attention_low]

    @functools.cached_property
    def candidate(self) -> np.ndarray | None:
        return None if self.candidate_low is None else upsample(self.candidate_low, self.size)

    @functools.cached_property
    def raw_score(self) -> float:
        """The uncalibrated image score: mean of the top 1 % of the probability map (see :mod:`inharmony.verdict`)."""
        return image_score(self.low)

    @functools.cached_property
    def score(self) -> float:
        """Image-level score in [0, 1]: "this image has an inharmonious region"; the calibrated probability when
        the model carries a calibration, else the raw score."""
        return self.calibration(self.raw_score) if self.calibration else self.raw_score

    def pixel_threshold(self, threshold: float = 0.5) -> float:
        """The probability a pixel must exceed to be in the mask at the score threshold ``threshold`` (the same
        value: uncalibrated; its raw equivalent: calibrated). A verdict "region" thus always has a pixel above it."""
        return self.calibration.raw_threshold(threshold) if self.calibration else threshold

    def verdict(self, threshold: float = 0.5) -> bool:
        """True when the image is judged to have an inharmonious region (``score > threshold``)."""
        return self.score > threshold

    def mask(self, threshold: float = 0.5) -> np.ndarray:
        """Binary H×W uint8 mask (0/255): pixels above :meth:`pixel_threshold`, and none when the verdict is "no
        region"."""
        if not self.verdict(threshold):
            return np.zeros(self.size, np.uint8)
        return ((self.probability > self.pixel_threshold(threshold)) * 255).astype(np.uint8)

    def summary(self, threshold: float = 0.5) -> dict:
        """Image-level verdict and score, region fraction and bounding box ``[x0, y0, x1, y1]`` in the image's
        pixels (None if empty). Fraction and box are measured on the network-resolution map (cheap for any image
        size), the box scaled to the image."""
        region = np.zeros(self.low.shape, bool)
        if self.verdict(threshold):
            region = self.low > self.pixel_threshold(threshold)
        ys, xs = np.nonzero(region)
        box = None
        if len(xs):
            (h, w), (lh, lw) = self.size, self.low.shape
            box = [
                int(xs.min() * w / lw),
                int(ys.min() * h / lh),
                int(np.ceil((xs.max() + 1) * w / lw)),
                int(np.ceil((ys.max() + 1) * h / lh)),
            ]
        return {
            "height": int(self.size[0]),
            "width": int(self.size[1]),
            "inharmonious": self.verdict(threshold),
            "score": round(self.score, 6),
            "raw_score": round(self.raw_score, 6),
            "calibrated": self.calibration is not None,
            "region_fraction": float(region.mean()),
            "bbox": box,
            "max_probability": float(self.low.max()),
        }


class Predictor:
    """Localise inharmonious regions with a trained model at a fixed network resolution ``size``.

    ``model`` is a torch ``nn.Module`` (the output-dict interface of the registry) or an
    :class:`~inharmony.inference.onnx_session.OnnxSession`.
    """

    def __init__(
        self,
        model: Any,
        size: int = 256,
        device: Any = "auto",
        max_pixels: int = DEFAULT_MAX_PIXELS,
        half: bool = False,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        """``half``: float16 weights and inputs (CUDA only); ``channels_last``: NHWC memory layout;
        ``compile``: ``torch.compile`` the model (first call slower, later calls faster). The three apply to
        torch models; ONNX Runtime optimises its graph itself."""
        from inharmony.inference.onnx_session import OnnxSession

        self.size, self.max_pixels = size, max_pixels
        self.model = model
        self.calibration = Calibration.from_info(getattr(model, "model_info", None))
        if isinstance(model, OnnxSession):
            if half or channels_last or compile:
                raise ValueError("--half, --channels-last and --compile apply to torch models, not to .onnx files")
            if size != model.input_size:
                raise ValueError(
                    f"{model.path} was exported for {model.input_size}×{model.input_size} inputs, not {size} "
                    "(another size: --backend torch, or re-export with 'inharmony export --size')"
                )
            self.backend, self.device = "onnxruntime", "cpu"
            return
        import torch

        self.backend = "torch"
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.dtype = torch.float32
        if half:
            if self.device.type != "cuda":
                raise ValueError("half precision inference needs a CUDA device")
            self.model, self.dtype = self.model.half(), torch.float16
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = torch.compile(self.model) if compile else self.model

    @classmethod
    def from_checkpoint(
        cls,
        source: str | Path = DEFAULT_MODEL,
        device: Any = "auto",
        size: int | None = None,
        backend: str = "auto",
        threads: int | None = None,
        **kwargs,
    ) -> Predictor:
        """Load a shipped model by name, a model file or an ``.onnx`` export; ``size`` defaults to the size it
        was trained (or exported) at. ``backend``: ``auto`` (shipped models on ONNX Runtime when their graph
        ships, see :func:`pick_backend`), ``torch`` or ``onnx``. ``threads``: CPU threads for the network
        (ONNX Runtime's intra-op threads, or torch's); default: the library's own choice (all cores)."""
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch_only = any(kwargs.get(k) for k in ("half", "channels_last", "compile"))
        chosen = pick_backend(source, "torch" if torch_only and backend == "auto" else backend)
        if chosen == "onnx":  # ONNX Runtime: no torch import on this path
            from inharmony.inference.onnx_session import OnnxSession

            model = OnnxSession(resolve_model_path(source, "onnx"), threads=threads)
            return cls(model, size=size or model.input_size, device="cpu", **kwargs)
        if str(source).startswith("reference_"):
            from inharmony.models import create_model, list_models

            if str(source) not in list_models():
                raise FileNotFoundError(f"unknown reference model {str(source)!r}")
            model = create_model(str(source))  # parameter-free references need no file
        else:
            from inharmony.checkpoint import load_model

            model = load_model(resolve_model_path(source))
        size = size or int(getattr(model, "model_info", {}).get("size", 256))
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        return cls(model, size=size, device=device, **kwargs)

    def torch_module(self):
        """The model as a torch module (an ONNX session wrapped), e.g. for :func:`inharmony.engine.evaluate`."""
        if self.backend == "torch":
            return self.model
        from inharmony.export import OnnxModule

        return OnnxModule(self.model)

    def load(self, image: ImageLike) -> Image.Image:
        """Any supported input as upright RGB."""
        if isinstance(image, Image.Image):
            return to_rgb(image)
        if isinstance(image, np.ndarray):
            arr = image
            if arr.dtype == np.uint16:
                arr = (arr / 257.0).round().astype(np.uint8)
            elif arr.dtype != np.uint8:
                arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
            return to_rgb(Image.fromarray(arr))
        return read_image(image, max_pixels=self.max_pixels)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """RGB image → 3×S×S float32 ImageNet-normalised array (bilinear resize, aspect ratio not kept, as the
        protocol)."""
        resized = np.asarray(image.resize((self.size, self.size), Image.BILINEAR), dtype=np.float32)
        return (resized.transpose(2, 0, 1) - _MEAN) / _STD

    def _forward(self, batch: np.ndarray, attention: bool) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """B×3×S×S → (B×S×S probabilities, five B×S×S attention maps or None) at the network resolution."""
        maps = self._maps(batch, attention)
        return maps["probability"], maps["attention"]

    def _maps(self, batch: np.ndarray, attention: bool) -> dict:
        """``probability`` (B×S×S), ``attention`` (five B×S×S maps or None) and ``candidate`` (B×S×S, or None for
        a model without a verdict head) at the network resolution."""

        def sigmoid(x: np.ndarray) -> np.ndarray:
            return 1.0 / (1.0 + np.exp(-x[:, 0].astype(np.float32)))

        if self.backend == "onnxruntime":
            named = dict(zip(self.model.output_names, self.model.run(batch)))
            att = [named[k][:, 0] for k in self.model.output_names if k.startswith("attention")] if attention else None
            cand = sigmoid(named["candidate"]) if "candidate" in named else None
            return {"probability": sigmoid(named["logits"]), "attention": att, "candidate": cand}
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device, dtype=self.dtype)
            out = self.net(x.contiguous(memory_format=self.memory_format))
            prob = torch.sigmoid(out["logits"].float())[:, 0].cpu().numpy()
            att = [a.float()[:, 0].cpu().numpy() for a in out["attention"]] if attention else None
            cand = torch.sigmoid(out["mask_logits"].float())[:, 0].cpu().numpy() if "mask_logits" in out else None
        return {"probability": prob, "attention": att, "candidate": cand}

    def predict_batch(
        self, batch: np.ndarray, sizes: list[tuple[int, int]], attention: bool = False
    ) -> list[Prediction]:
        """Predict a B×3×S×S batch (from :meth:`preprocess`); ``sizes`` are the (H, W) to return each map at."""
        maps = self._maps(batch, attention)
        prob, att, cand = maps["probability"], maps["attention"], maps["candidate"]
        return [
            Prediction(
                prob[i],
                (int(h), int(w)),
                [a[i] for a in att] if att is not None else None,
                cand[i] if cand is not None else None,
                self.calibration,
            )
            for i, (h, w) in enumerate(sizes)
        ]

    def predict(self, image: ImageLike, attention: bool = False) -> Prediction:
        """Probability map (and optionally the five MDA maps) at the original image size."""
        rgb = self.load(image)
        return self.predict_batch(self.preprocess(rgb)[None], [(rgb.height, rgb.width)], attention)[0]
