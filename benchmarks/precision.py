"""fp32 vs bf16 autocast for the samplers' networks and the GANs' generators: what it costs in sample quality and
gains in speed.

    python -m benchmarks.precision [--samples 600] [--per-class 50] [--speed-only]   # 10 minutes on 2 cores

Quality: the pixel DDPM's DDIM-50 samples and latent diffusion's "a photo of a {class}" samples at w = 4, each drawn
from the same seeds in fp32 and in bf16: FD vs the Fashion-MNIST test set (evaluation-classifier features), the
latent model's class consistency, the mean absolute pixel difference between the paired images, and as the yardstick
the FD between two fp32 sample sets from different seeds (how much FD moves by chance alone). The same for the DCGAN's
and the StyleGAN's samples (psi 1), whose 16-image grids are the light calls a class makes most. Speed: one network
call at each tab's default batch, on one thread and on all. Writes benchmarks/precision.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from core import diffusion, gan, latent, latent_diffusion, stylegan
from core.metrics import classifier_outputs, frechet_distance, load_classifier
from core.runtime import autocast, bf16_is_faster_on_cpu, generator, in_precision
from core.train.common import fashion_mnist
from core.train.diffusion import sample_images
from core.train.latent_diffusion import evaluate_denoiser

OUT = Path(__file__).resolve().parent / "precision.json"
STEPS = 50
SEED, OTHER_SEED = 0, 1
GAN_SAMPLES = 2000  # per precision: a GAN draws them in seconds


def _call_ms(call, x: torch.Tensor, threads: int, repeats: int = 10) -> float:
    torch.set_num_threads(threads)
    with torch.inference_mode():
        call(x, 500)
        start = time.perf_counter()
        for _ in range(repeats):
            call(x, 500)
    return round(1000 * (time.perf_counter() - start) / repeats, 1)


def speed() -> dict:
    pixel = diffusion.load()
    model = latent_diffusion.load()
    with torch.inference_mode():
        text = latent_diffusion.encode_text(model.clip, ["a photo of a bag"])
        empty = latent_diffusion.encode_text(model.clip, [""])
    rows = {}
    threads = sorted({1, os.cpu_count() or 1})
    for name, make, x in (
        ("pixel DDPM U-Net, 16 images", lambda bf16: in_precision(pixel, bf16), torch.randn(16, 1, 28, 28)),
        (
            "latent U-Net with guidance, 4 images",
            lambda bf16: latent_diffusion.guided_noise(
                model.unet, text, empty, latent_diffusion.DEFAULT_GUIDANCE, bf16
            ),
            torch.randn(4, 4, 8, 8),
        ),
    ):
        for n in threads:
            rows[f"{name}, {n} thread(s)"] = {
                "fp32_ms": _call_ms(make(False), x, n),
                "bf16_ms": _call_ms(make(True), x, n),
            }
    for name, (dim, draw) in _generators().items():
        z = latent.noise_from_seed(SEED, dim, 16)
        for n in threads:
            rows[f"{name}, 16 images, {n} thread(s)"] = {
                label: _call_ms(lambda x, _t, bf16=bf16, draw=draw: draw(x, bf16), z, n)
                for label, bf16 in (("fp32_ms", False), ("bf16_ms", True))
            }
    torch.set_num_threads(os.cpu_count() or 1)
    return rows


def _generators() -> dict:
    """name -> (size of z, draw(z, bf16)): images in [0, 1] from the bundled DCGAN and StyleGAN (psi 1)."""
    dcgan, style = gan.load("gan"), stylegan.load()

    def precision(function):
        def draw(z: torch.Tensor, bf16: bool) -> torch.Tensor:
            with torch.inference_mode(), autocast(bf16):
                return function(z).float()

        return draw

    return {
        "DCGAN generator": (dcgan.config.latent_dim, precision(dcgan.generate)),
        "StyleGAN generator": (style.config.latent_dim, precision(lambda z: style.synthesize(style.map(z)))),
    }


def generator_quality(test_features: torch.Tensor, classifier, samples: int) -> dict:
    out = {}
    for name, (dim, draw) in _generators().items():
        images = {
            label: torch.cat([draw(z, bf16) for z in latent.noise_from_seed(seed, dim, samples).split(250)])
            for label, bf16, seed in (
                ("fp32", False, SEED),
                ("bf16", True, SEED),
                ("fp32, other seeds", False, OTHER_SEED),
            )
        }
        with torch.inference_mode():
            features = {label: classifier_outputs(classifier, x)[0] for label, x in images.items()}
        out[name] = {
            "samples": samples,
            "fd_vs_test": {label: round(frechet_distance(f, test_features), 3) for label, f in features.items()},
            "fd_fp32_vs_fp32_other_seeds": round(frechet_distance(features["fp32"], features["fp32, other seeds"]), 3),
            "mean_abs_pixel_difference_fp32_vs_bf16": round((images["fp32"] - images["bf16"]).abs().mean().item(), 4),
        }
    return out


@torch.inference_mode()
def pixel_quality(test_features: torch.Tensor, classifier, samples: int) -> dict:
    model = diffusion.load()
    images = {}
    for label, bf16, seed in (("fp32", False, SEED), ("bf16", True, SEED), ("fp32, other seeds", False, OTHER_SEED)):
        start = time.perf_counter()
        images[label] = sample_images(in_precision(model, bf16), samples, STEPS, generator(seed), batch_size=100)
        print(f"pixel DDPM {label}: {time.perf_counter() - start:.0f} s", flush=True)
    fd = {
        label: round(frechet_distance(classifier_outputs(classifier, x)[0], test_features), 3)
        for label, x in images.items()
    }
    return {
        "samples": samples,
        "sampler": f"DDIM {STEPS}, eta 0",
        "fd_vs_test": fd,
        "fd_fp32_vs_fp32_other_seeds": round(
            frechet_distance(
                classifier_outputs(classifier, images["fp32"])[0],
                classifier_outputs(classifier, images["fp32, other seeds"])[0],
            ),
            3,
        ),
        "mean_abs_pixel_difference_fp32_vs_bf16": round((images["fp32"] - images["bf16"]).abs().mean().item(), 4),
    }


def latent_quality(test_x: torch.Tensor, per_class: int) -> dict:
    model = latent_diffusion.load()
    w = latent_diffusion.DEFAULT_GUIDANCE
    out = {}
    for label, bf16, seed in (("fp32", False, SEED), ("bf16", True, SEED), ("fp32, other seeds", False, OTHER_SEED)):
        start = time.perf_counter()
        result = evaluate_denoiser(model, test_x, per_class, STEPS, (w,), generator(seed), bf16=bf16)[f"guidance_{w:g}"]
        out[label] = {"fd_vs_test": result["fd_samples_vs_test"], "class_consistency": result["class_consistency"]}
        print(f"latent diffusion {label}: {time.perf_counter() - start:.0f} s", flush=True)
    return {
        "samples": 10 * per_class,
        "prompt": '"a photo of a {class}"',
        "guidance": w,
        "sampler": f"DDIM {STEPS}, eta 0",
        "by_precision": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=600, help="pixel DDPM samples per precision")
    parser.add_argument("--per-class", type=int, default=50, help="latent diffusion samples per class per precision")
    parser.add_argument("--speed-only", action="store_true", help="re-measure the speed, keep the quality figures")
    parser.add_argument(
        "--generators-only",
        action="store_true",
        help="re-measure the speed and the GANs' quality, keep the samplers' quality figures",
    )
    args = parser.parse_args()
    if args.speed_only:
        results = json.loads(OUT.read_text()) | {"speed_per_network_call": speed()}
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(results["speed_per_network_call"], indent=1))
        return
    _, _, test_x, _ = fashion_mnist(dry_run=False)
    classifier = load_classifier()
    with torch.inference_mode():
        test_features, _ = classifier_outputs(classifier, test_x)
    if args.generators_only:
        results = json.loads(OUT.read_text()) | {
            "speed_per_network_call": speed(),
            "generators": generator_quality(test_features, classifier, GAN_SAMPLES),
        }
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps({key: results[key] for key in ("speed_per_network_call", "generators")}, indent=1))
        return
    results = {
        "cpu_has_fast_bf16": bf16_is_faster_on_cpu(),
        "speed_per_network_call": speed(),
        "pixel_ddpm": pixel_quality(test_features, classifier, args.samples),
        "latent_diffusion": latent_quality(test_x, args.per_class),
        "generators": generator_quality(test_features, classifier, GAN_SAMPLES),
    }
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
