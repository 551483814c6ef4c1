"""An ONNX Runtime session for an exported model, with numpy in and out: no torch import on this path.

Prediction with a ``.onnx`` file therefore starts without loading torch (about 2 s of a folder run on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class OnnxSession:
    """``run(batch)`` → ``[logits, attention0, …]`` (numpy) for a B×3×S×S float32 ImageNet-normalised batch, in
    the order of ``output_names`` (a verdict model's export ends with ``candidate``)."""

    def __init__(self, path: str | Path, threads: int | None = None, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle threads sleep instead of spinning: decoding and writing share the same cores (same latency at b=1)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ValueError(f"{path} is not a loadable ONNX model ({exc})") from exc
        self.path = path
        self.output_names = [o.name for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        self.model_name = meta.get("model_name", "onnx")
        self.model_config = json.loads(meta.get("model_config", "{}"))
        self.input_size = int(meta.get("size", 256))
        self.model_info = {**json.loads(meta.get("info", "{}")), "size": self.input_size}

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        if batch.ndim != 4 or tuple(batch.shape[1:]) != (3, self.input_size, self.input_size):
            raise ValueError(
                f"{self.path.name} takes B×3×{self.input_size}×{self.input_size} inputs, got {tuple(batch.shape)}"
            )
        return self.session.run(None, {"image": np.ascontiguousarray(batch, np.float32)})
