"""Tabs "GAN" (samples, interpolation, the discriminator's verdicts) and "cGAN" (the conditional GAN)."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from core import latent
from core.checkpoints import CheckpointError, read_card
from core.datasets import FASHION_CLASSES, load_sample
from core.lazy import lazy_import
from core.runtime import inference_autocast
from demos.checks import MAX_GRID_SAMPLES, MAX_PATH_STEPS, bounded_int, valid_seed
from demos.common import (
    GRID_CLASS,
    GRID_HEIGHT,
    checkpoint_notice,
    intro,
    output_image,
    private,
    seed_input,
    seed_path_controls,
)
from demos.errors import friendly_errors
from demos.render import grid_cell_px, image_grid, named_grid

torch = lazy_import("torch")
gan = lazy_import("core.gan")
metrics = lazy_import("core.metrics")

HISTOGRAM_SAMPLES = 500  # as many generated images as the bundled sample has real ones
ALL_CLASSES = "All ten classes"
GAN_INTRO = r"""
## Generative adversarial networks
G turns noise $z \sim N(0, I)$ into an image; D says *real* or *fake*. They play
$\min_G \max_D V(D, G) = \mathbb{E}_x[\log D(x)] + \mathbb{E}_z[\log(1 - D(G(z)))]$.

This DCGAN-style pair was trained by `python -m core.train gan` on Fashion-MNIST with the lecture's loop
($k = 1$). D ascends $V$; G descends the **non-saturating** $-\log D(G(z))$ — the same goal, $D(G(z)) = 1$, but it
still has a gradient when D confidently rejects the fakes early on, where $\log(1 - D(G(z)))$ is flat.
"""
CGAN_INTRO = r"""
## Conditional GAN
"As well as a sample from the noise, a vector indicating the class is provided to both G and D."

Here G gets
the one-hot class $y$ beside $z$, $G(z, y)$, and D gets it through a projection term, $D(x, y)$, so D judges *a real
image of this class*.
Choose a class and G should draw that class; the evaluation classifier checks whether it did.
"""


def _samples(model: gan.GAN, seed: int, n: int, classes: torch.Tensor | None = None) -> torch.Tensor:
    z = latent.noise_from_seed(seed, model.config.latent_dim, n)
    with torch.inference_mode(), inference_autocast():
        return model.generate(z, classes).float()


# --- unconditional GAN --------------------------------------------------------------------------------------


@friendly_errors
def sample(seed, n):
    """z ~ N(0, I) with this seed -> a grid of n samples G(z)."""
    n = bounded_int(n, "The number of samples", 1, MAX_GRID_SAMPLES)
    images = _samples(gan.load("gan"), valid_seed(seed), n)
    return image_grid(images, columns=min(n, 8), scale=3)


@friendly_errors
def interpolate(seed_a, seed_b, steps):
    """Two noise vectors (from two seeds) -> strips G(lerp) and G(slerp) between them."""
    model = gan.load("gan")
    steps = bounded_int(steps, "The number of steps", 2, MAX_PATH_STEPS)
    z_a = latent.noise_from_seed(valid_seed(seed_a), model.config.latent_dim)[0]
    z_b = latent.noise_from_seed(valid_seed(seed_b), model.config.latent_dim)[0]
    t = torch.linspace(0, 1, steps)
    with torch.inference_mode(), inference_autocast():
        linear = model.generate(latent.lerp(z_a, z_b, t)).float()
        spherical = model.generate(latent.slerp(z_a, z_b, t)).float()
    return image_grid(linear, columns=steps, scale=3), image_grid(spherical, columns=steps, scale=3)


@friendly_errors
def discriminator_scores(seed):
    """D(x) on the 500 bundled real test images and on 500 samples G(z): a histogram and the means."""
    model = gan.load("gan")
    real = torch.from_numpy(load_sample().images[:HISTOGRAM_SAMPLES]).float().div(255).unsqueeze(1)
    fake = _samples(model, valid_seed(seed), HISTOGRAM_SAMPLES)
    with torch.inference_mode():
        scores = {"real test images": model.d_probability(real), "generated G(z)": model.d_probability(fake)}
    edges = np.linspace(0, 1, 11)
    rows = []
    for source, values in scores.items():
        counts, _ = np.histogram(values.numpy(), bins=edges)
        rows += [
            (f"{lo:.1f}–{hi:.1f}", count / len(values), source) for lo, hi, count in zip(edges[:-1], edges[1:], counts)
        ]
    return pd.DataFrame(rows, columns=["D(x)", "share", "images"]), verdict(
        scores["real test images"], scores["generated G(z)"]
    )


def verdict(on_real: torch.Tensor, on_fake: torch.Tensor) -> str:
    """What the measured scores say, against the lecture's claim that D ends near 0.5 on everything."""
    real, fake = on_real.mean().item(), on_fake.mean().item()
    ranked = metrics.ranking_auc(on_real, on_fake)  # how often D ranks a real image above a fake one (0.5: cannot tell)
    text = (
        f"Measured: mean D on real test images **{real:.3f}**, on generated G(z) **{fake:.3f}**; D ranks a real "
        f"image above a generated one in **{100 * ranked:.0f}%** of pairs (50%: it cannot tell them apart). "
    )
    if abs(real - 0.5) < 0.1 and abs(fake - 0.5) < 0.1:
        return text + (
            "Both sit near 0.5, the lecture's end point: D can no longer tell real from fake, and on its "
            "own it is of little use."
        )
    return text + (
        "A perfect D would give 1 and 0. This one has drifted towards the lecture's 0.5 but not reached "
        "it: training stopped at an uneasy truce in which D still leans the right way on average while "
        "the two histograms overlap broadly."
    )


# --- conditional GAN --------------------------------------------------------------------------------------------


def _class_index(name) -> int | None:
    if name == ALL_CLASSES:
        return None
    if name not in FASHION_CLASSES:
        raise ValueError(f"Choose a class among {', '.join(FASHION_CLASSES)} (or '{ALL_CLASSES}'), not {name!r}.")
    return FASHION_CLASSES.index(name)


CGAN_SCALE = 4  # 28 px -> 112 px a sample: ten class columns fill a projector's width


def conditional_images(class_name, seed, n) -> tuple[torch.Tensor, list[int]]:
    """A class (or all ten) and a seed -> samples G(z, y), (n, classes, 1, 28, 28): sample i of every class shares
    z_i, so the classes differ only in y; and the class indices."""
    model = gan.load("cgan")
    n = bounded_int(n, "The number of samples per class", 1, 16)
    chosen = _class_index(class_name)
    classes = list(range(len(FASHION_CLASSES))) if chosen is None else [chosen]
    y = torch.tensor(classes).repeat(n)
    z = latent.noise_from_seed(valid_seed(seed), model.config.latent_dim, n).repeat_interleave(len(classes), 0)
    with torch.inference_mode(), inference_autocast():
        images = model.generate(z, y).float()
    return images.view(n, len(classes), *images.shape[1:]), classes


@friendly_errors
def conditional_sample(class_name, seed, n):
    """A class (or all ten) and a seed -> samples G(z, y): one column per class (named), one row per z; for one
    class, its samples in rows of up to 8."""
    images, classes = conditional_images(class_name, seed, n)
    n, cell = len(images), grid_cell_px(scale=CGAN_SCALE)
    if len(classes) == 1:  # one class: its samples in rows of up to 8, under the class's name
        grid = image_grid(images.flatten(0, 1), columns=min(n, 8), scale=CGAN_SCALE)
        return named_grid(grid, [FASHION_CLASSES[classes[0]]], cell=(grid.width, cell))
    grid = image_grid(images.flatten(0, 1), columns=len(classes), scale=CGAN_SCALE)
    return named_grid(
        grid, [FASHION_CLASSES[c] for c in classes], [f"z_{i + 1}" for i in range(n)], cell=(cell, cell), row_width=44
    )


def consistency_table() -> pd.DataFrame:
    """Per-class consistency measured by the recipe (1,000 samples, the evaluation classifier), from the card."""
    try:
        by_class = read_card("cgan")["metrics"]["class_consistency_by_class"]
    except (CheckpointError, KeyError):
        return pd.DataFrame(columns=["class", "classified as requested"])
    return pd.DataFrame(
        [(name, f"{100 * share:.1f}%") for name, share in by_class.items()],
        columns=["class", "classified as requested"],
    )


# --- layout ---------------------------------------------------------------------------------------------------


def build(tab: gr.Tab) -> None:
    intro(GAN_INTRO)
    checkpoint_notice(["gan"])
    with gr.Row(equal_height=True):
        seed = seed_input("Seed (it picks z)")
        count = gr.Slider(1, MAX_GRID_SAMPLES, value=32, step=1, label="Samples")
        sample_button = gr.Button("Sample", variant="primary")
    samples = output_image("G(z)", elem_id="gan-samples", height=GRID_HEIGHT, elem_classes=[GRID_CLASS])

    gr.Markdown("### Walking between two noise vectors")
    seed_a, seed_b, steps, interpolate_button = seed_path_controls()
    linear_strip = output_image("Linear: G((1 − t)·z_a + t·z_b)")
    spherical_strip = output_image("Spherical (slerp): norms stay typical of N(0, I)")

    gr.Markdown("### The discriminator after training")
    with gr.Row():
        histogram = gr.BarPlot(
            x="D(x)", y="share", color="images", label="D's output on real and generated images", y_lim=[0, 1]
        )
        with gr.Column():
            histogram_text = gr.Markdown()
            score_button = gr.Button("Score 500 new samples (uses the seed above)")

    tab.select(sample, [seed, count], samples, **private("gan_open")).then(
        interpolate, [seed_a, seed_b, steps], [linear_strip, spherical_strip], **private("gan_open_interpolation")
    ).then(discriminator_scores, seed, [histogram, histogram_text], **private("gan_open_scores"))
    sample_button.click(sample, [seed, count], samples, api_name="gan_sample")
    interpolate_button.click(
        interpolate, [seed_a, seed_b, steps], [linear_strip, spherical_strip], api_name="gan_interpolate"
    )
    score_button.click(discriminator_scores, seed, [histogram, histogram_text], api_name="gan_discriminator")


def build_conditional(tab: gr.Tab) -> None:
    intro(CGAN_INTRO)
    checkpoint_notice(["cgan"])
    with gr.Row():
        class_name = gr.Dropdown([ALL_CLASSES, *FASHION_CLASSES], value=ALL_CLASSES, label="Class y")
        seed = seed_input()
        count = gr.Slider(1, 16, value=4, step=1, label="Samples per class")
        sample_button = gr.Button("Sample", variant="primary")
    samples = output_image(
        "G(z, y): one column per class; each row shares its z",
        elem_id="cgan-samples",
        height=GRID_HEIGHT + 60,
        elem_classes=[GRID_CLASS],
    )
    with gr.Accordion("Measured: does G draw the class it is asked for?", open=False):
        gr.Dataframe(
            consistency_table(),
            label="Share of 1,000 samples the evaluation classifier assigns to the requested class",
            interactive=False,
        )
    tab.select(conditional_sample, [class_name, seed, count], samples, **private("cgan_open"))
    sample_button.click(conditional_sample, [class_name, seed, count], samples, api_name="cgan_sample")
    class_name.input(conditional_sample, [class_name, seed, count], samples, **private("cgan_pick"))


def warm_up() -> None:
    """Load both GANs and the classifier, as the two tabs do when they open."""
    sample(0, 32)
    conditional_sample("All ten classes", 0, 4)
