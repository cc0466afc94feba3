"""Every handler of the app, run with its models on PyTorch's `meta` device: where an input was left on the CPU,
the call fails the way it would on a GPU ("Tensor on device meta is not on the expected device cpu!").

Meta tensors have shapes and no values, so a handler stops where it first needs a value (`.item()`, a picture
copied back); core.runtime's copy back to the CPU is replaced by zeros of the same shape so that the rest of the
handler runs on. Run in its own process (tests/test_device.py): models and caches filled here hold no values.
`python -m tests.device_sweep` prints one JSON object: {"calls": {api_name: "ok" | "stopped: …" | "MIXED: …"},
"models": {cache key: [devices of its parameters and buffers]}}.
"""

from __future__ import annotations

import json
import logging

import gradio as gr
import numpy as np
import torch
from PIL import Image

from core import runtime
from core.datasets import load_sample

DEVICE_MIX = ("expected device", "same device", "device type for generator", "Expected all tensors")
META = torch.device("meta")


def _copy_back(value, target: torch.device, real=runtime._moved):
    if isinstance(value, torch.Tensor) and value.device.type == "meta" and target.type == "cpu":
        return torch.zeros(value.shape, dtype=value.dtype)
    if isinstance(value, (tuple, list)):
        return type(value)(_copy_back(v, target) for v in value)
    return real(value, target)


def _argument(component, garment: np.ndarray):
    if isinstance(component, gr.ImageEditor):
        ink = np.stack([255 - garment] * 3, -1)
        return {"background": None, "layers": [], "composite": np.dstack([ink, np.full_like(garment, 255)])}
    if isinstance(component, gr.Image):
        return Image.fromarray(garment) if component.type == "pil" else garment
    return component.value


def _outcome(handler, arguments) -> str:
    try:
        result = handler(*arguments)
        if hasattr(result, "__next__"):
            for _, _ in zip(range(3), result):
                pass
        return "ok"
    except Exception as error:  # the point: which errors, not whether
        while error.__cause__ is not None:
            error = error.__cause__
        text = f"{type(error).__name__}: {error}"
        return ("MIXED: " if any(mark in text for mark in DEVICE_MIX) else "stopped: ") + text[:200]


def sweep() -> dict:
    logging.disable(logging.CRITICAL)
    runtime.device = lambda: META
    runtime._moved = _copy_back
    runtime.MODELS.clear()
    import app

    blocks = app.build_app()
    garment = load_sample().images[3]
    calls = {}
    for function in blocks.fns.values():
        if not function.api_name or function.fn is None:
            continue
        handler = getattr(function.fn, "__wrapped__", function.fn)  # the handler itself, in this thread
        calls[function.api_name] = _outcome(handler, [_argument(c, garment) for c in function.inputs])
    models = {}
    for key, model in runtime.MODELS._models.items():
        network = getattr(model, "model", model)  # the CLIP bundle holds its model
        parts = (
            [network]
            if isinstance(network, torch.nn.Module)
            else [part for part in vars(network).values() if isinstance(part, torch.nn.Module)]
        )
        models[key] = sorted({str(t.device) for part in parts for t in (*part.parameters(), *part.buffers())})
    return {"calls": calls, "models": models}


if __name__ == "__main__":
    print(json.dumps(sweep()))
