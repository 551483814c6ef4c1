"""FastAPI app: a page to drop an image on, and ``POST /v1/localize``, ``GET /v1/models``, ``GET /healthz``.

Guarantees: uploads above ``max_bytes`` are refused (413) before they are parsed when the client sends a
Content-Length, and after reading otherwise; images above ``max_pixels`` get 413; declared non-image
types get 415 and undecodable bodies 422. Inference runs in a worker thread (the event loop never
blocks), at most ``max_concurrency`` at once, each bounded by ``timeout_s`` (504). Each model is
loaded once. No request parameter ever reaches the filesystem: models are chosen by name from a
fixed table built at start-up.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image
from pydantic import BaseModel, Field

from inharmony import __version__
from inharmony.imageio import ImageReadError
from inharmony.inference.predictor import Predictor, shipped_models
from inharmony.viz import heatmap

STATIC = Path(__file__).resolve().parent / "static"
ACCEPTED_TYPES = ("image/", "application/octet-stream")


class ModelInfo(BaseModel):
    name: str
    architecture: str
    input_size: int
    default: bool
    scores: dict = Field(default_factory=dict)


class Localization(BaseModel):
    model: str
    width: int
    height: int
    threshold: float
    inharmonious: bool = Field(
        description="image-level verdict: the image has an inharmonious region (score > threshold)"
    )
    score: float = Field(
        description="image-level score in [0, 1]: the calibrated probability of a region when the model carries a "
        "calibration, else the raw score"
    )
    raw_score: float = Field(description="uncalibrated image score (mean of the top 1 % probabilities)")
    calibrated: bool = Field(description="whether score is calibrated (see the model card)")
    calibration: dict | None = Field(
        None, description="the model's Platt scaling {a, b}: score = sigmoid(a·logit(raw_score) + b); None if none"
    )
    pixel_threshold: float = Field(description="probability a pixel exceeds to be in the mask at this threshold")
    region_fraction: float = Field(description="fraction of pixels in the mask (0 when the verdict is no)")
    bbox: list[int] | None = Field(None, description="bounding box [x0, y0, x1, y1] of the mask, None if empty")
    max_probability: float
    timing_ms: float = Field(description="inference time, decoding included")
    mask_png: str = Field(description="binary mask (0/255) at the image's size, PNG, base64")
    probability_png: str = Field(description="probability ×255 at the image's size, 8-bit PNG, base64")
    heatmap_png: str = Field(description="colour heatmap of the probability, PNG, base64")
    attention_png: list[str] = Field(default_factory=list, description="the five MDA maps as heatmaps, finest first")
    candidate_png: str | None = Field(
        None,
        description="models with a verdict head: heatmap of where the region would be if the image has one "
        "(before the verdict's gate), PNG, base64",
    )


def png_b64(array: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", optimize=False, compress_level=3)
    return base64.b64encode(buf.getvalue()).decode("ascii")


class ModelTable:
    """Name → model source; each Predictor is built once, on first use, under a lock."""

    def __init__(self, sources: dict[str, str | Path], default: str, device: str, max_pixels: int) -> None:
        if not sources:
            raise ValueError("no model to serve: ship a default model or pass --model PATH")
        if default not in sources:
            raise ValueError(f"default model {default!r} is not among {sorted(sources)}")
        self.sources, self.default, self.device, self.max_pixels = dict(sources), default, device, max_pixels
        self._loaded: dict[str, Predictor] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None) -> tuple[str, Predictor]:
        name = name or self.default
        if name not in self.sources:
            raise HTTPException(422, f"unknown model {name!r}; available: {', '.join(sorted(self.sources))}")
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = Predictor.from_checkpoint(
                    self.sources[name], device=self.device, max_pixels=self.max_pixels
                )
            return name, self._loaded[name]


def create_app(
    models: dict[str, str | Path] | None = None,
    default: str | None = None,
    device: str = "auto",
    max_bytes: int = 20 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    max_concurrency: int = 2,
    timeout_s: float = 120.0,
) -> FastAPI:
    """Build the app; ``models`` maps names to model files (default: the shipped models)."""
    sources = dict(models) if models is not None else {k: k for k in shipped_models()}
    table = ModelTable(
        sources, default or ("default" if "default" in sources else next(iter(sources), "")), device, max_pixels
    )
    slots = asyncio.Semaphore(max_concurrency)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(table.get, None)  # load the default model once, before the first request
        yield

    app = FastAPI(
        title="inharmony",
        version=__version__,
        lifespan=lifespan,
        description="Inharmonious region localization (DIRL).",
    )

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes + 64 * 1024:
            return JSONResponse({"detail": f"upload of {length} bytes exceeds the limit of {max_bytes} bytes"}, 413)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "version": __version__, "models": sorted(table.sources)}

    @app.get("/v1/models", response_model=list[ModelInfo])
    async def list_models() -> list[ModelInfo]:
        out = []
        for name in sorted(table.sources):
            _, pred = await run_in_threadpool(table.get, name)
            info = getattr(pred.model, "model_info", {})
            out.append(
                ModelInfo(
                    name=name,
                    architecture=getattr(pred.model, "model_name", "?"),
                    input_size=pred.size,
                    default=name == table.default,
                    scores=info.get("scores", {}),
                )
            )
        return out

    @app.post(
        "/v1/localize",
        response_model=Localization,
        responses={
            413: {"description": "upload or image too large"},
            415: {"description": "not an image type"},
            422: {"description": "unreadable image or bad field"},
            504: {"description": "timed out"},
        },
    )
    async def localize(
        image: UploadFile = File(..., description="the composite image (JPEG, PNG, WebP, …)"),
        model: str | None = Form(None, description="model name from /v1/models (default model if omitted)"),
        threshold: float = Form(0.5, ge=0.0, le=1.0),
        attention: bool = Form(True, description="also return the five MDA attention maps"),
    ) -> Localization:
        ctype = (image.content_type or "").lower()
        if ctype and not ctype.startswith(ACCEPTED_TYPES):
            raise HTTPException(415, f"field 'image' has content type {ctype!r}; expected an image/* type")
        data = await image.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise HTTPException(413, f"upload exceeds the limit of {max_bytes} bytes")
        if not data:
            raise HTTPException(422, "field 'image' is empty; expected an image file")
        name, predictor = await run_in_threadpool(table.get, model)

        def run():
            start = time.perf_counter()
            pred = predictor.predict(data, attention=attention)
            return pred, (time.perf_counter() - start) * 1000

        async with slots:
            try:
                pred, ms = await asyncio.wait_for(run_in_threadpool(run), timeout_s)
            except ImageReadError as exc:
                msg = str(exc).replace("<bytes>", image.filename or "upload")
                raise HTTPException(413 if "exceeds the limit" in msg else 422, msg) from exc
            except asyncio.TimeoutError as exc:
                raise HTTPException(504, f"inference took longer than {timeout_s} s") from exc
        summary = pred.summary(threshold)
        return Localization(
            model=name,
            width=summary["width"],
            height=summary["height"],
            threshold=threshold,
            inharmonious=summary["inharmonious"],
            score=summary["score"],
            raw_score=summary["raw_score"],
            calibrated=summary["calibrated"],
            calibration={"a": pred.calibration.a, "b": pred.calibration.b} if pred.calibration else None,
            pixel_threshold=pred.pixel_threshold(threshold),
            region_fraction=summary["region_fraction"],
            bbox=summary["bbox"],
            max_probability=summary["max_probability"],
            timing_ms=round(ms, 1),
            mask_png=png_b64(pred.mask(threshold)),
            probability_png=png_b64((pred.probability * 255).round().astype(np.uint8)),
            heatmap_png=png_b64(heatmap(pred.probability)),
            attention_png=[png_b64(heatmap(a)) for a in (pred.attention or [])],
            candidate_png=png_b64(heatmap(pred.candidate)) if pred.candidate is not None else None,
        )

    return app
