"""ONNX export (torch's dynamo exporter) and an ONNX Runtime module with the same output dict.

The exported graph takes ``image`` (B×3×S×S, ImageNet-normalised, dynamic batch, fixed S) and returns
``logits`` (B×1×S×S) and ``attention0..4`` (B×1×S×S probabilities). ONNX Runtime fuses BatchNorm into
the convolutions when it builds the session. The model name and input size travel in the metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from inharmony.fileio import atomic_path


class _ExportWrapper(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor):
        out = self.model(image)
        return (out["logits"], *out["attention"])


def export_onnx(model: nn.Module, path: str | Path, size: int = 256, max_batch: int = 64) -> Path:
    """Write ``model`` (eval mode, CPU) as ONNX with a dynamic batch dimension; returns the path."""
    import onnx

    model = model.eval().cpu()
    wrapper = _ExportWrapper(model).eval()
    example = torch.randn(2, 3, size, size)
    n_att = len(model(example[:1])["attention"])
    names = ["logits"] + [f"attention{i}" for i in range(n_att)]
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
    """An ONNX Runtime session behind the ``nn.Module`` interface the engine and predictor use."""

    def __init__(self, path: str | Path, threads: int | None = None, providers: list[str] | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ValueError(f"{path} is not a loadable ONNX model ({exc})") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        self.model_name = meta.get("model_name", "onnx")
        self.model_config = json.loads(meta.get("model_config", "{}"))
        self.model_info = {**json.loads(meta.get("info", "{}")), "size": int(meta.get("size", 256))}
        self.input_size = int(meta.get("size", 256))

    def forward(self, image: Tensor) -> dict:
        if tuple(image.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(
                f"this ONNX model takes {self.input_size}×{self.input_size} inputs, got {tuple(image.shape)}"
            )
        outputs = self.session.run(None, {"image": np.ascontiguousarray(image.detach().cpu().numpy(), np.float32)})
        tensors = [torch.from_numpy(o) for o in outputs]
        return {"logits": tensors[0], "attention": tensors[1:]}
