"""VAE tab: decoding one point (target p95 <= 50 ms: it must feel like direct manipulation), the other handlers
(<= 200 ms), and the models' quality: ELBO terms (cards), reconstruction error and sample FD / coverage."""

from types import SimpleNamespace

import torch

from benchmarks.timing import Latency, measure
from core import latent, vae
from core.checkpoints import read_card
from core.datasets import load_sample
from core.metrics import class_histogram, classifier_outputs, frechet_distance, load_classifier, mse
from demos import vae as tab
from demos.common import sample_image

DECODE_TARGET_MS, OTHER_TARGET_MS = 50.0, 200.0


def handler_latency(calls: int) -> list[Latency]:
    image_a, image_b = sample_image(0), sample_image(7)
    tab.explorer_open()  # the map is built once per process, when the tab first opens
    click = SimpleNamespace(index=[250, 170])
    return [
        measure("vae_decode (2-D point)", lambda: tab.decode(2, [0.3, -0.8]), calls, target_p95_ms=DECODE_TARGET_MS),
        measure(
            "vae map click (decode + mark)", lambda: tab.explorer_click(click), calls, target_p95_ms=DECODE_TARGET_MS
        ),
        measure("vae_reconstruct", lambda: tab.reconstruct(image_a), calls, target_p95_ms=OTHER_TARGET_MS),
        measure("vae_sample (16, one model)", lambda: tab.sample(20, 0, 16, 1.0), calls, target_p95_ms=OTHER_TARGET_MS),
        measure(
            "vae_sample_each (3 models)", lambda: tab.sample_each(0, 16, 1.0), calls, target_p95_ms=OTHER_TARGET_MS
        ),
        measure(
            "vae_interpolate", lambda: tab.interpolate(20, image_a, image_b, 10), calls, target_p95_ms=OTHER_TARGET_MS
        ),
        measure(
            "vae_arithmetic",
            lambda: tab.arithmetic(20, "mean: Sneaker", "mean: Ankle boot", "mean: Sandal"),
            calls,
            target_p95_ms=OTHER_TARGET_MS,
        ),
    ]


def api_calls(image_path: str) -> dict[str, tuple]:
    return {"/vae_decode": (2, "0.3, -0.8"), "/vae_sample": (20, 0, 16, 1.0)}


@torch.inference_mode()
def quality() -> dict[str, dict]:
    x, _ = load_sample().tensors()
    classifier = load_classifier()
    real = classifier_outputs(classifier, x)[0]
    # The "nothing learned" reference the tests compare with: noise with the data's per-pixel mean and spread.
    noise = (x.mean(0) + x.std(0) * torch.randn(1000, 1, 28, 28, generator=torch.Generator().manual_seed(2))).clamp(
        0, 1
    )
    rows = {
        "gaussian_noise_reference": {
            "FD of 1000 samples vs sample set": round(
                frechet_distance(classifier_outputs(classifier, noise)[0], real), 2
            )
        }
    }
    for d in vae.LATENT_SIZES:
        model, card = vae.load(d), read_card(vae.checkpoint_name(d))
        samples = model.decode(latent.sample_prior(1000, d, torch.Generator().manual_seed(0)))
        features, predictions = classifier_outputs(classifier, samples)
        shares = class_histogram(predictions)
        rows[vae.checkpoint_name(d)] = {
            "test -ELBO nats (card)": card["metrics"]["test_negative_elbo_nats"],
            "test reconstruction nats (card)": card["metrics"]["test_reconstruction_nats"],
            "test KL nats (card)": card["metrics"]["test_kl_nats"],
            "sample_mse (mean code)": round(mse(model.decode(vae.encode_mean(model, x)), x).mean().item(), 5),
            "FD of 1000 samples vs sample set": round(frechet_distance(features, real), 2),
            "smallest class share of samples": min(shares.values()),
            "class with the smallest share": min(shares, key=shares.get),
            "decoder noise level s (card)": card["metrics"].get("decoder_noise_level_s"),
            "latent dimensions in use (card)": card["metrics"].get("active_latent_dimensions"),
            "train_seconds (card)": card["wall_seconds"],
        }
    return rows
