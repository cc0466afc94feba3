"""Diffusion and latent-diffusion tabs: the forward slider, a full DDIM-50 run of 16 images (target 5 s), the
streaming rate for one image (target 10 steps/s, i.e. 100 ms a step), text-to-image; and quality: the DDPM's FD
beside the GANs', the class coverage, and how often a prompt's class is drawn."""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks.timing import Latency, measure
from core import diffusion, latent_diffusion, samplers
from core.captions import CLASS_PROMPT_NAMES, ZERO_SHOT_TEMPLATE
from core.checkpoints import read_card
from core.datasets import load_sample
from core.train.evaluation import sample_quality
from demos import diffusion as tab
from demos import latent_diffusion as text_tab
from demos import streaming
from demos.common import sample_image

FORWARD_TARGET_MS = 200.0
DDIM_RUN_TARGET_MS = 5000.0
STREAM_STEP_TARGET_MS = 100.0  # at least 10 steps a second


def _per_step(name: str, run, steps: int, runs: int, target: float | None) -> Latency:
    """A streamed run, timed whole and divided by its step count (frames and their rendering included)."""
    run()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000 / steps)
    return Latency(
        name, round(float(np.percentile(times, 50)), 2), round(float(np.percentile(times, 95)), 2), runs, target
    )


def _ddim_16() -> torch.Tensor:
    with torch.inference_mode():
        return samplers.last_step(
            samplers.sample(diffusion.load(), (16, 1, 28, 28), "ddim", 50, torch.Generator().manual_seed(0))
        ).x_t


def handler_latency(calls: int) -> list[Latency]:
    """The handlers' own cost: a streamed run's frames handed on as computed, not held FRAME_INTERVAL_S apart as
    they are for a page (demos.streaming.sampler_stream; the served benchmark has them so)."""
    interval, streaming.FRAME_INTERVAL_S = streaming.FRAME_INTERVAL_S, 0.0
    try:
        return _handler_latency(calls)
    finally:
        streaming.FRAME_INTERVAL_S = interval


def _handler_latency(calls: int) -> list[Latency]:
    image = sample_image(3)
    runs = max(3, calls // 10)
    return [
        measure(
            "diffusion_forward (t = 500: closed form, 500 single steps, strip, chart)",
            lambda: tab.forward(image, 500, 0),
            calls,
            target_p95_ms=FORWARD_TARGET_MS,
        ),
        measure("DDIM, 50 steps, 16 images (core sampler)", _ddim_16, runs, warmup=1, target_p95_ms=DDIM_RUN_TARGET_MS),
        measure(
            "diffusion_sample DDIM 50, 16 images (tab, streamed)",
            lambda: list(tab.sample(0, "DDIM", 50, 16)),
            runs,
            warmup=1,
            target_p95_ms=DDIM_RUN_TARGET_MS,
        ),
        _per_step(
            "diffusion_sample DDPM 1,000 steps, 1 image: ms per step (streamed)",
            lambda: list(tab.sample(0, "DDPM", 1000, 1)),
            1000,
            3,
            STREAM_STEP_TARGET_MS,
        ),
        _per_step(
            "text_to_image DDIM 50, 1 image: ms per step (guided, decoded, streamed)",
            lambda: list(text_tab.text_to_image("a photo of a sneaker", 4.0, 50, 0, 1)),
            50,
            runs,
            STREAM_STEP_TARGET_MS,
        ),
        measure(
            "text_to_image DDIM 50, 4 images (tab, streamed)",
            lambda: list(text_tab.text_to_image("a photo of a sneaker", 4.0, 50, 0, 4)),
            runs,
            warmup=1,
            target_p95_ms=DDIM_RUN_TARGET_MS,
        ),
    ]


def api_calls(image_path: str) -> dict[str, tuple]:
    from gradio_client import handle_file

    return {"/diffusion_forward": (handle_file(image_path), 500, 0)}


@torch.inference_mode()
def quality() -> dict[str, dict]:
    x, _ = load_sample().tensors()
    model = diffusion.load()
    samples = torch.cat(
        [
            diffusion.to_image_range(
                samplers.last_step(
                    samplers.sample(model, (250, 1, 28, 28), "ddim", 50, torch.Generator().manual_seed(seed))
                ).x_t
            )
            for seed in range(4)
        ]
    )
    pixel = sample_quality(samples, x)
    card = read_card("ddpm")
    rows = {
        "ddpm": {
            "FD of 1000 samples vs sample set (DDIM 50)": round(pixel["fd_samples_vs_test"], 2),
            "smallest class share of samples": pixel["min_class_share_of_samples"],
            "FD of 1000 samples vs test set (card)": card["metrics"].get("fd_samples_vs_test"),
            "train_seconds (card)": card["wall_seconds"],
            "seconds per training step, batch 128 (card)": card["metrics"]["seconds_per_training_step"],
        }
    }
    ldm = latent_diffusion.load()
    images, requested = [], []
    for c, name in enumerate(CLASS_PROMPT_NAMES):
        final = samplers.last_step(
            ldm.sample(
                ZERO_SHOT_TEMPLATE.format(name),
                100,
                latent_diffusion.DEFAULT_GUIDANCE,
                50,
                torch.Generator().manual_seed(c),
            )
        )
        images.append(latent_diffusion.decode(ldm.autoencoder, final.x_t))
        requested.append(torch.full((100,), c))
    prompted = sample_quality(torch.cat(images), x, torch.cat(requested))
    by_class = prompted["class_consistency_by_class"]
    ae_card, ldm_card = (
        read_card(latent_diffusion.AUTOENCODER_CHECKPOINT),
        read_card(latent_diffusion.DENOISER_CHECKPOINT),
    )
    rows["ldm"] = {
        f"prompt's class drawn, 1000 samples (w = {latent_diffusion.DEFAULT_GUIDANCE:g}, DDIM 50)": prompted[
            "class_consistency"
        ],
        "weakest class": f"{min(by_class, key=by_class.get)} {min(by_class.values()):.2f}",
        "FD of 1000 prompted samples vs sample set": round(prompted["fd_samples_vs_test"], 2),
        "train_seconds (card)": ldm_card["wall_seconds"],
        "seconds per training step, batch 128 (card)": ldm_card["metrics"]["seconds_per_training_step"],
    }
    rows["ldm_autoencoder"] = {
        "test PSNR dB (card)": ae_card["metrics"]["test_psnr_db"],
        "classifier agreement on reconstructions (card)": ae_card["metrics"].get(
            "classifier_agreement_on_reconstructions"
        ),
        "train_seconds (card)": ae_card["wall_seconds"],
    }
    return rows
