"""Inference on one device (core.runtime.device(), GENMODELS_DEVICE overriding it) and the ZeroGPU wrapper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from core import runtime

REPO = Path(__file__).resolve().parent.parent

# Endpoints that run no network: they stay on the CPU worker on a ZeroGPU Space (no GPU lease for them).
MODEL_FREE = {
    "ae_use_drawing",
    "vae_use_drawing",
    "diffusion_use_drawing",
    "clip_use_drawing",
    "divergence",
    "divergence_after_preset",
    "toy_gan_train",
    "toy_gan_open",
    "unpaired_show_upload",
    "unpaired_show_drawing",
    "diffusion_forward",
    "diffusion_forward_seed",
    "diffusion_forward_image",
    "diffusion_forward_open",
    "diffusion_replay",
}


def _run(code: str, env: dict[str, str]) -> dict:
    """Run `code` in a fresh interpreter at the repo root; its last line of output is JSON."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.fast
def test_the_device_override_is_obeyed_and_a_missing_device_is_refused(monkeypatch):
    monkeypatch.setenv(runtime.DEVICE_VARIABLE, "cpu")
    assert runtime.device() == torch.device("cpu")
    monkeypatch.setenv(runtime.DEVICE_VARIABLE, "banana")
    with pytest.raises(ValueError, match="names no device"):
        runtime.device()
    if not torch.cuda.is_available():
        monkeypatch.setenv(runtime.DEVICE_VARIABLE, "cuda")
        with pytest.raises(ValueError, match="no CUDA device"):
            runtime.device()


@pytest.mark.fast
def test_a_model_method_runs_on_the_model_and_hands_back_on_the_callers_device(monkeypatch):
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(3))

        @runtime.on_model_device
        def scale(self, x, factor=None):
            seen.append((x.device.type, None if factor is None else factor.device.type))
            return x * self.weight

    back = []
    real = runtime._moved
    monkeypatch.setattr(
        runtime,
        "_moved",
        lambda value, target: (
            back.append(target.type)
            or (
                torch.zeros(value.shape)
                if isinstance(value, torch.Tensor) and value.device.type == "meta"
                else real(value, target)
            )
        ),
    )
    model = runtime.place(Probe(), torch.device("meta"))
    result = model.scale(torch.ones(3), factor=torch.ones(1))
    assert seen == [("meta", "meta")]  # both arguments went to the model's device
    assert result.device.type == "cpu" and back[-1] == "cpu"  # and the result came back to the caller's
    model = runtime.place(Probe(), torch.device("cpu"))
    back.clear()
    model.scale(torch.ones(3))
    assert back == []  # on the model's own device nothing moves


def test_every_handler_keeps_its_inputs_on_its_models_device():
    """The whole app swept with its models on the meta device: a tensor left on the CPU fails as it would on a GPU."""
    report = _run("from tests.device_sweep import sweep; import json; print(json.dumps(sweep()))", {})
    mixed = {name: outcome for name, outcome in report["calls"].items() if outcome.startswith("MIXED")}
    assert mixed == {}
    assert sum(outcome == "ok" for outcome in report["calls"].values()) >= 50  # the sweep reached most handlers
    assert len(report["models"]) >= 15 and all(devices == ["meta"] for devices in report["models"].values()), report[
        "models"
    ]


LIST_WRAPPERS = """
    import json, app
    blocks = app.build_app()
    found = {}
    for function in blocks.fns.values():
        if function.api_name and hasattr(function.fn, "zero_gpu"):
            wrapper = function.fn.zero_gpu
            found[function.api_name] = None if wrapper is None else getattr(wrapper, "spaces_duration", "not spaces")
    print(json.dumps(found))
"""


def test_zero_gpu_wraps_exactly_the_handlers_that_run_networks(tmp_path):
    (tmp_path / "spaces.py").write_text(
        textwrap.dedent("""
        def GPU(function=None, duration=60):  # a stand-in for Hugging Face's package
            def wrap(f):
                def call(*args, **kwargs):
                    return f(*args, **kwargs)
                call.spaces_duration = duration
                return call
            return wrap if function is None else wrap(function)
    """)
    )
    path = os.pathsep.join([str(tmp_path), str(REPO)])
    on_zero = _run(LIST_WRAPPERS, {"SPACES_ZERO_GPU": "true", "PYTHONPATH": path})
    wrapped = {name for name, duration in on_zero.items() if duration is not None}
    assert set(on_zero) >= MODEL_FREE  # the list names real endpoints
    assert wrapped == set(on_zero) - MODEL_FREE
    assert {on_zero[name] for name in ("diffusion_sample", "text_to_image")} == {120}  # streamed runs: longer lease
    assert on_zero["gan_sample"] == 30
    elsewhere = _run(LIST_WRAPPERS, {"SPACES_ZERO_GPU": "", "PYTHONPATH": path})  # spaces importable, not ZeroGPU
    assert set(elsewhere) == set(on_zero) and all(duration is None for duration in elsewhere.values())
