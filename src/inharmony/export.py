"""ONNX export (torch's dynamo exporter) and an ONNX Runtime module with the same output dict.

The exported graph takes ``image`` (B×3×S×S, ImageNet-normalised, dynamic batch, fixed S) and returns
``logits`` (B×1×S×S) and ``attention0..4`` (B×1×S×S probabilities), and for a model with a verdict head
``candidate`` (B×1×S×S logits: where the region would be if there is one, before the verdict's gate). ONNX
Runtime fuses BatchNorm into the convolutions when it builds the session. The model name and input size travel in
the metadata. With ``fp16_weights`` the file stores its float weights at half precision, each cast back to float32
in the graph (ONNX Runtime folds the casts when it builds the session, so the arithmetic stays float32): half the
file, answers within about 1e-2 of a probability.
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


def store_fp16(proto, min_elements: int = 16) -> int:
    """Replace the float32 initializers of ``proto`` (an ``onnx.ModelProto``, changed in place) with at least
    ``min_elements`` values by float16 copies and a Cast back to float32 at the start of the graph; returns how
    many were replaced."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph, casts, halves = proto.graph, [], []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}__fp16")
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=f"{half.name}_cast"))
        halves.append(half)
        graph.initializer.remove(init)
    graph.initializer.extend(halves)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return len(casts)


def export_onnx(
    model: nn.Module, path: str | Path, size: int = 256, max_batch: int = 64, fp16_weights: bool = False
) -> Path:
    """Write ``model`` (eval mode, CPU) as ONNX with a dynamic batch dimension (weights stored at half precision
    with ``fp16_weights``); returns the path."""
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
        if fp16_weights:
            store_fp16(proto)
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
