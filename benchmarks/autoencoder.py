"""Autoencoder tab: handler latency (target p95 <= 100 ms) and the models' quality on the bundled sample."""

from __future__ import annotations

import torch

from benchmarks.timing import Latency, measure
from core import autoencoder as ae
from core.checkpoints import read_card
from core.datasets import load_sample
from core.metrics import mse, psnr
from demos import autoencoder as tab
from demos.common import sample_image

TARGET_P95_MS = 100.0


def handler_latency(calls: int) -> list[Latency]:
    image = sample_image(3)
    return [
        measure("ae_reconstruct", lambda: tab.reconstruct(image), calls, target_p95_ms=TARGET_P95_MS),
        measure("ae_denoise", lambda: tab.denoise(image, "gaussian", 0.5, 0), calls, target_p95_ms=TARGET_P95_MS),
    ]


def api_calls(image_path: str) -> dict[str, tuple]:
    """Arguments for each API name (every parameter), for the served measurement."""
    from gradio_client import handle_file

    return {
        "/ae_reconstruct": (handle_file(image_path),),
        "/ae_denoise": (handle_file(image_path), "gaussian", 0.5, 0),
    }


@torch.inference_mode()
def quality() -> dict[str, dict]:
    x, _ = load_sample().tensors()
    rows = {}
    for name in tab.RECONSTRUCTION_MODELS:
        model = ae.load(name)
        card = read_card(name)
        rows[name] = {
            "sample_mse": round(mse(model.reconstruct(x), x).mean().item(), 5),
            "test_mse (card)": card["metrics"]["test_mse"],
            "code_numbers": model.latent_numel(),
            "compression": round(ae.compression_ratio(model.latent_numel()), 2),
            "train_seconds (card)": card["wall_seconds"],
        }
    for budget in tab.JPEG_BUDGETS:  # JPEG on the same images, its image data within the budget
        results = [ae.reconstruct_with_jpeg(image.unsqueeze(0), budget) for image in x]
        rows[f"jpeg_{budget}B"] = {
            "sample_mse": round(sum(r.mse for r in results) / len(results), 5),
            "mean_data_bytes": round(sum(r.code_bytes for r in results) / len(results), 1),
            "mean_file_bytes": round(sum(r.file_bytes for r in results) / len(results), 1),
        }
    for kind, level in (("gaussian", 0.5), ("salt_and_pepper", 0.2), ("masking", 0.5)):
        noisy = ae.add_noise(x, kind, level, torch.Generator().manual_seed(0))
        rows["ae_denoising"][f"psnr_gain_db {kind} {level}"] = round(
            (psnr(ae.load("ae_denoising").reconstruct(noisy), x).mean() - psnr(noisy, x).mean()).item(), 2
        )
    return rows
