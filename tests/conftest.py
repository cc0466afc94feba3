from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Every handler runs with the device override set to the CPU, where the thresholds were measured, also on a
# machine with a GPU; tests/test_device.py checks the device path itself.
os.environ.setdefault("GENMODELS_DEVICE", "cpu")


@pytest.fixture(scope="session")
def sample():
    from core.datasets import load_sample

    return load_sample()


@pytest.fixture(scope="session")
def sample_tensors(sample):
    return sample.tensors()


@pytest.fixture()
def empty_checkpoints(tmp_path, monkeypatch):
    """Point the app at an empty checkpoint folder (and forget models already loaded)."""
    from core.runtime import MODELS

    monkeypatch.setenv("GENMODELS_CHECKPOINTS", str(tmp_path))
    MODELS.clear()
    yield tmp_path
    MODELS.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_url():
    """The app on a local port for the session's client and browser tests."""
    import app as app_module
    from demos import serving

    app = app_module.build_app()
    port = free_port()
    serving.launch(
        app,
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **app_module.launch_options(),
    )
    yield f"http://127.0.0.1:{port}/"
    app.close()
    from core.runtime import COMPUTE

    # Let the work the pages left queued finish (a tab opened last may still be computing): a torch op still
    # running on the worker while the interpreter exits aborts the process ("terminate called ...").
    COMPUTE.run(lambda: None, COMPUTE.BACKGROUND)


def require_chromium():
    """Browser tests skip on a laptop without Chromium, but CI must have it: there, its absence fails."""
    from benchmarks.browser import chromium

    executable = chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: .ci/run must `apt-get install chromium`.")
        pytest.skip("Chromium is not installed (apt-get install chromium).")
    return executable


def rgba_drawing(size: int = 280, strokes: list[tuple[int, int, int, int]] | None = None) -> np.ndarray:
    """What Gradio's Sketchpad sends: a transparent canvas [0,0,0,0] with opaque black strokes [0,0,0,255]."""
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    for top, left, bottom, right in strokes or []:
        canvas[top:bottom, left:right] = (0, 0, 0, 255)
    return canvas


def torch_generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def noise_like(x: torch.Tensor, n: int, seed: int = 2) -> torch.Tensor:
    """Noise with the data's own per-pixel mean and spread: a fair "nothing learned" baseline for FD."""
    return (x.mean(0) + x.std(0) * torch.randn(n, *x.shape[1:], generator=torch_generator(seed))).clamp(0, 1)


def fd_samples_and_noise(samples: torch.Tensor, x: torch.Tensor) -> tuple[float, float]:
    """Frechet distance (evaluation-classifier features) of samples and of data-like noise to the images x."""
    from core.metrics import classifier_outputs, frechet_distance, load_classifier

    classifier = load_classifier()
    real = classifier_outputs(classifier, x)[0]
    fd_samples = frechet_distance(classifier_outputs(classifier, samples)[0], real)
    fd_noise = frechet_distance(classifier_outputs(classifier, noise_like(x, len(samples)))[0], real)
    return fd_samples, fd_noise


def class_shares(samples: torch.Tensor) -> dict[str, float]:
    from core.metrics import class_histogram, classifier_outputs, load_classifier

    return class_histogram(classifier_outputs(load_classifier(), samples)[1])
