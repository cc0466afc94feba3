"""Lecture presets: one deep link per slide of the lecture that has a demo, `?preset=<slug>`. The link opens the
slide's tab, sets its controls to the slide's example and runs it, so a lecturer can paste the link into the slide.

How: the page's load event (a script, no server call) fills the controls named by elem_id and writes the preset's
slug into a hidden marker; the page script (demos/page.py) waits for the marker, opens the tab (and sub-tab) and
presses the preset's button. A tab whose opening event computes from its controls (the forward diffusion) needs no button.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from demos import toy_gan
from demos.page import MARKER_ID


@dataclass(frozen=True)
class Preset:
    slug: str
    slide: str  # the slide's title in the lecture (../shared/lecture.md)
    tab: str  # the top-level tab's id
    shows: str  # what the link shows, for the README's table
    values: dict[str, Any] = field(default_factory=dict)  # control elem_id -> value
    press: str | None = None  # the label of the button the page presses once the values are in
    inner: str | None = None  # a sub-tab to open first
    output: str | None = None  # elem_id of the tab's main result (for the tests)
    expect: str | None = None  # text the page shows once the preset's example has run (for the tests)


def _toy_gan_values(name: str) -> dict[str, Any]:
    settings = toy_gan.PRESETS[name]
    return {
        "toy-preset": name,
        "toy-distribution": settings["distribution"],
        "toy-loss": settings["loss"],
        "toy-k": settings["k"],
        "toy-batch-size": settings["batch_size"],
        "toy-lr-d": settings["lr_d"],
        "toy-lr-g": settings["lr_g"],
        "toy-latent-dim": settings["latent_dim"],
    }


PRESETS = (
    Preset(
        "simplest-autoencoder",
        "Simplest Autoencoder",
        "autoencoder",
        "a linear AE beside PCA, a deep and a convolutional AE on one garment",
        press="Reconstruct",
        output="ae-reconstructions",
    ),
    Preset(
        "denoising",
        "Application (denoising)",
        "autoencoder",
        "salt-and-pepper noise on a garment, removed by the denoising AE",
        {"ae-noise-type": "salt_and_pepper", "ae-noise-level": 0.3},
        press="Add noise and denoise",
    ),
    Preset(
        "kl-divergence",
        "Background (the KL example)",
        "divergence",
        "the lecture's p and q: KL(p‖q) = 0.0853, KL(q‖p) = 0.0975",
        press="Compute",
        output="div-numbers",
        expect="0.0853",
    ),
    Preset(
        "kl-infinite",
        "KL(p‖q) ≠ KL(q‖p)",
        "divergence",
        "q misses an outcome p has: KL(p‖q) is infinite, KL(q‖p) is not",
        {"div-preset": "q misses an outcome p has (KL infinite)", "div-p": "0.5, 0.3, 0.2", "div-q": "0.6, 0.4, 0"},
        press="Compute",
        output="div-numbers",
        expect="∞",
    ),
    Preset(
        "vae",
        "Variational Autoencoders (2-D and 5-D)",
        "vae",
        "reconstructions with latent sizes 2, 5 and 20 and their ELBO terms",
        press="Reconstruct",
        output="vae-reconstructions",
    ),
    Preset(
        "vae-sampling",
        "VAE as generative model",
        "vae",
        "samples z ~ N(0, I) decoded by each VAE",
        {"vae-temperature": 1.0},
        press="Sample",
    ),
    Preset(
        "latent-arithmetic",
        "You can explore the latent space and define some arithmetic",
        "vae",
        "latent arithmetic a + (b − c) on class means",
        press="Compute a + (b − c)",
    ),
    Preset("gan", "GAN", "gan", "a DCGAN's samples G(z)", press="Sample", output="gan-samples"),
    Preset(
        "mode-collapse",
        "Mode Collapse",
        "toy_gan",
        "the unrolled-GAN paper's ring of 8, trained live: G collapses onto a few modes",
        _toy_gan_values("Mode collapse (unrolled-GAN)"),
        press="Train",
        output="toy-gan-frame",
    ),
    Preset(
        "stylegan",
        "StyleGAN",
        "stylegan",
        "StyleGAN's samples with truncation ψ = 0.7 in W",
        {"stylegan-psi": 0.7},
        press="Sample",
        output="stylegan-samples",
    ),
    Preset(
        "conditional-gan",
        "Conditional GAN",
        "cgan",
        "G(z, y) for all ten classes, one column each",
        press="Sample",
        output="cgan-samples",
    ),
    Preset(
        "pix2pix",
        "Pix2Pix",
        "pix2pix",
        "a drawn outline turned into a garment, with and without the cGAN term",
        press="Translate the drawing",
        output="pix2pix-photo",
    ),
    Preset(
        "dual-gan",
        "Dual GAN, Cycle GAN",
        "unpaired",
        "a sneaker turned into an ankle boot and back",
        output="unpaired-translated",
    ),
    Preset(
        "forward-diffusion",
        "Encoder (x_t in closed form)",
        "diffusion",
        "a garment noised to t = 500, by the closed form and by 500 single steps",
        {"diffusion-t": 500},
        inner="Forward: noising",
        expect="x_500",
    ),
    Preset(
        "reverse-diffusion",
        "Decoder (denoising step by step)",
        "diffusion",
        "DDIM 50 steps from pure noise, x_t beside the guess x̂_0",
        {"diffusion-sampler": "DDIM", "diffusion-steps": 50},
        press="Denoise from x_T",
        inner="Reverse: denoising",
        output="diffusion-x-t",
        expect="DDIM step 50 of 50",
    ),
    Preset(
        "clip",
        "CLIP",
        "clip",
        "an image scored against texts, and the zero-shot classifier",
        press="Score",
        output="clip-probabilities",
    ),
    Preset(
        "stable-diffusion",
        "Stable Diffusion",
        "latent_diffusion",
        'text to image: "a photo of a sneaker", with CLIP\'s curve of when the prompt takes hold',
        {"ldm-prompt": "a photo of a sneaker"},
        press="Generate",
        output="ldm-decoded",
        expect="DPM-Solver++ step 20 of 20",
    ),
    Preset(
        "trilemma",
        "Generative Models (the overview)",
        "overview",
        "every family side by side; the diffusion model at DDIM 50",
        {"overview-steps": "DDIM 50"},
        press="Sample every family",
        output="overview-row-0",
        expect="Diffusion (DDIM 50) · FD",
    ),
)


def script_table() -> dict[str, dict[str, str | None]]:
    """What the page script needs of each preset."""
    return {p.slug: {"tab": p.tab, "inner": p.inner, "press": p.press} for p in PRESETS}


def attach(app: gr.Blocks) -> None:
    """Wire the load event: call inside the Blocks, after every tab is built (controls are found by elem_id).

    The event runs in the page alone (a `js` function, no server call): it reads ?preset= and returns the preset's
    values and slug, or nothing (every output left as it is). A server function did this before: every page load
    cost the server two queued calls, and the page kept a loading status for each of the 20 controls, which Gradio
    revisits at every message a stream sends (a DDIM-50 text-to-image run: 13,604 → 13,304 value clones in the
    page, measured)."""
    controls = {block.elem_id: block for block in app.blocks.values() if getattr(block, "elem_id", None)}
    wanted = sorted({key for preset in PRESETS for key in preset.values})
    missing = [key for key in wanted if key not in controls]
    if missing:
        raise RuntimeError(f"Presets name controls no tab has: {', '.join(missing)}")
    marker = gr.Textbox(visible="hidden", elem_id=MARKER_ID)
    app.load(None, None, [*(controls[key] for key in wanted), marker], js=load_script(wanted))


def load_script(wanted: list[str]) -> str:
    """The load event's function: the values of the `wanted` controls and the slug for ?preset=<slug>, undefined
    for a control the preset leaves alone (Gradio skips an undefined output), or undefined for all."""
    rows = {p.slug: [p.values.get(key) for key in wanted] + [p.slug] for p in PRESETS}
    return f"""() => {{
  const rows = {json.dumps(rows)};
  const slug = new URLSearchParams(window.location.search).get("preset");
  if (!Object.hasOwn(rows, slug)) return undefined;  // no preset, an unknown one, or a name like "constructor"
  return rows[slug].map((value) => (value === null ? undefined : value));
}}"""


def readme_table(base_url: str = "http://127.0.0.1:7860/") -> str:
    """The README's table of presets (tests/test_overview.py checks the README holds exactly this)."""
    rows = ["| Slide | Link | Shows |", "|---|---|---|"]
    rows += [f"| {p.slide} | `{base_url}?preset={p.slug}` | {p.shows} |" for p in PRESETS]
    return "\n".join(rows)
