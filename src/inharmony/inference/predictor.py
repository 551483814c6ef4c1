"""``Predictor``: image in (path, bytes, PIL or array, any size and mode) → probability map at its size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from inharmony.checkpoint import load_model
from inharmony.data.transforms import normalize
from inharmony.imageio import DEFAULT_MAX_PIXELS, read_image, to_rgb

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = "default"

ImageLike = str | Path | bytes | Image.Image | np.ndarray


def shipped_models() -> dict[str, Path]:
    """Model files that ship inside the package, by name (file stem)."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.safetensors"))}


def resolve_model_path(source: str | Path = DEFAULT_MODEL) -> Path:
    """A shipped model name (``"default"``) or a path to a ``.safetensors`` model file."""
    shipped = shipped_models()
    if str(source) in shipped:
        return shipped[str(source)]
    path = Path(source)
    if path.is_file():
        return path
    if str(source) == DEFAULT_MODEL:
        raise FileNotFoundError(f"no default model is shipped in {WEIGHTS_DIR}; pass a model file (--model PATH)")
    names = ", ".join(shipped) or "none"
    raise FileNotFoundError(f"model {str(source)!r} is neither a file nor a shipped model (shipped: {names})")


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class Prediction:
    """``probability``: H×W float32 in [0, 1] at the input's size; ``attention``: five H×W maps or None."""

    probability: np.ndarray
    attention: list[np.ndarray] | None = None

    def mask(self, threshold: float = 0.5) -> np.ndarray:
        """Binary H×W uint8 mask (0/255)."""
        return ((self.probability > threshold) * 255).astype(np.uint8)

    def summary(self, threshold: float = 0.5) -> dict:
        return {
            "height": int(self.probability.shape[0]),
            "width": int(self.probability.shape[1]),
            "region_fraction": float((self.probability > threshold).mean()),
            "max_probability": float(self.probability.max()),
        }


class Predictor:
    """Localise inharmonious regions with a trained model at a fixed network resolution ``size``."""

    def __init__(
        self,
        model: nn.Module,
        size: int = 256,
        device: str | torch.device = "auto",
        max_pixels: int = DEFAULT_MAX_PIXELS,
        half: bool = False,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        """``half``: float16 weights and inputs (CUDA only); ``channels_last``: NHWC memory layout;
        ``compile``: ``torch.compile`` the model (first call slower, later calls faster)."""
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.size, self.max_pixels = size, max_pixels
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
        cls, source: str | Path = DEFAULT_MODEL, device: str | torch.device = "auto", size: int | None = None, **kwargs
    ) -> Predictor:
        """Load a shipped model by name or a model file; ``size`` defaults to the size it was trained at."""
        if str(source).endswith(".onnx"):  # ONNX Runtime: no torchvision import needed
            from inharmony.export import OnnxModule

            model = OnnxModule(source)
            size = size or model.input_size
            if size != model.input_size:
                raise ValueError(f"{source} was exported for {model.input_size}×{model.input_size} inputs, not {size}")
        elif str(source).startswith("reference_"):
            from inharmony.models import create_model, list_models

            if str(source) not in list_models():
                raise FileNotFoundError(f"unknown reference model {str(source)!r}")
            model = create_model(str(source))  # parameter-free references need no file
        else:
            model = load_model(resolve_model_path(source))
        size = size or int(getattr(model, "model_info", {}).get("size", 256))
        return cls(model, size=size, device=device, **kwargs)

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

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """RGB image → 3×S×S normalised tensor (bilinear resize, aspect ratio not kept, as the protocol)."""
        resized = image.resize((self.size, self.size), Image.BILINEAR)
        t = torch.from_numpy(np.array(resized, dtype=np.uint8)).permute(2, 0, 1).float().div_(255.0)
        return normalize(t)

    @torch.inference_mode()
    def predict_tensors(
        self, batch: torch.Tensor, sizes: list[tuple[int, int]], attention: bool = False
    ) -> list[Prediction]:
        """Predict a B×3×S×S batch; ``sizes`` are the (H, W) to return each map at."""
        batch = batch.to(self.device, dtype=self.dtype).contiguous(memory_format=self.memory_format)
        out = self.net(batch)
        prob = torch.sigmoid(out["logits"].float())
        results = []
        for i, (h, w) in enumerate(sizes):
            p = F.interpolate(prob[i : i + 1], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
            att = None
            if attention:
                att = [
                    F.interpolate(a[i : i + 1].float(), size=(h, w), mode="bilinear", align_corners=False)[0, 0]
                    .cpu()
                    .numpy()
                    for a in out["attention"]
                ]
            results.append(Prediction(p.clamp(0, 1).cpu().numpy(), att))
        return results

    def predict(self, image: ImageLike, attention: bool = False) -> Prediction:
        """Probability map (and optionally the five MDA maps) at the original image size."""
        rgb = self.load(image)
        return self.predict_tensors(self.preprocess(rgb)[None], [(rgb.height, rgb.width)], attention)[0]
