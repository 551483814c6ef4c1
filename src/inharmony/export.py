"""ONNX export (torch's dynamo exporter) and an ONNX Runtime module with the same output dict.

The exported graph takes ``image`` (B×3×S×S, ImageNet-normalised, dynamic batch, fixed S) and returns
``logits`` (B×1×S×S) and ``attention0..4`` (B×1×S×S probabilities), and for a model with a verdict head
``candidate`` (B×1×S×S logits: where the region would be if there is one, before the verdict's gate). ONNX
Runtime fuses BatchNorm into the convolutions when it builds the session. The model name and input size travel in
the metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from inharmony.fileio import atomic_path


class _ExportWrapper(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor):
        out = self.model(image)
        return (out["logits"], *out["attention"], *([out["mask_logits"]] if "mask_logits" in out else []))


def export_onnx(model: nn.Module, path: str | Path, size: int = 256, max_batch: int = 64) -> Path:
    """Write ``model`` (eval mode, CPU) as ONNX with a dynamic batch dimension; returns the path."""
    import onnx

    model = model.eval().cpu()
    wrapper = _ExportWrapper(model).eval()
    example = torch.randn(2, 3, size, size)
    probe = model(example[:1])
    names = ["logits"] + [f"attention{i}" for i in range(len(probe["attention"]))]
    names += ["candidate"] if "mask_logits" in probe else []
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    path = Path(path)
    with atomic_path(path) as tmp:
        program = torch.onnx.export(
            wrapper,
            (example,),
            input_names=["image"],
            output_names=names,
            dynamic_shapes={"image": {0: batch}},
            dynamo=True,
            verbose=False,
        )
        program.save(str(tmp))
        proto = onnx.load(str(tmp))
        meta = {
            "model_name": getattr(model, "model_name", "?"),
            "size": str(size),
            "model_config": json.dumps(getattr(model, "model_config", {})),
            "info": json.dumps(getattr(model, "model_info", {})),
        }
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
    return path


class OnnxModule(nn.Module):
    """An ONNX Runtime session behind the ``nn.Module`` interface the engine uses (e.g. to evaluate an export)."""

    def __init__(self, path, threads: int | None = None, providers: list[str] | None = None) -> None:
        """``path``: an ``.onnx`` file, or an already open :class:`OnnxSession`."""
        super().__init__()
        from inharmony.inference.onnx_session import OnnxSession

        if isinstance(path, OnnxSession):
            self.session = path
        else:
            self.session = OnnxSession(path, threads=threads, providers=providers)
        self.model_name, self.model_config = self.session.model_name, self.session.model_config
        self.model_info, self.input_size = self.session.model_info, self.session.input_size

    def forward(self, image: Tensor) -> dict:
        outputs = self.session.run(image.detach().cpu().numpy())
        named = {k: torch.from_numpy(o) for k, o in zip(self.session.output_names, outputs)}
        out = {"logits": named["logits"], "attention": [v for k, v in named.items() if k.startswith("attention")]}
        if "candidate" in named:
            out["mask_logits"] = named["candidate"]
        return out
