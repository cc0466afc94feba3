"""Tab "Overview": the lecture's closing comparison, live. One seed, a row of samples from every family, their
quality, coverage and speed side by side, and the generative learning trilemma drawn from those numbers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from core import catalog, diffusion, latent, samplers, trilemma
from core.checkpoints import CheckpointError, read_card
from core.lazy import lazy_import
from core.runtime import generator, in_precision, inference_autocast, inference_bf16, model_device
from demos.checks import valid_seed
from demos.common import checkpoint_notice, intro, output_image, private, seed_input
from demos.diffusion import SAMPLERS as PIXEL_SAMPLERS
from demos.diffusion import SHOWN_SAMPLER
from demos.errors import friendly_errors
from demos.render import image_grid
from demos.streaming import opening_run

torch = lazy_import("torch")
gan = lazy_import("core.gan")
latent_diffusion = lazy_import("core.latent_diffusion")
stylegan = lazy_import("core.stylegan")
vae = lazy_import("core.vae")

ROW = 8  # samples per family
VAE_LATENT = 20
LDM_STEPS = 20  # the unconditional latent model: DPM-Solver++ 20, as its card measured it
FAST_REPEATS = 5  # a family faster than REPEAT_BELOW_MS is timed this many times (median): one call is noisy
REPEAT_BELOW_MS = 50.0
CHECKPOINTS = (catalog.LDM_DENOISER_CHECKPOINT, "ddpm", "gan", "stylegan", catalog.vae_checkpoint_name(VAE_LATENT))
INTRO = r"""
## Overview: the generative learning trilemma
Four families, one data set, one seed: which is sharpest, which covers every class, which is fastest? No family
has all three.

Every model here was trained on Fashion-MNIST by this repository's recipes and is judged with the same yardsticks:
**quality** is the Fréchet distance (FD) of 1,000 samples to the test set in the evaluation classifier's features
(lower is better), **coverage** is the share of the rarest of the ten classes among the samples (10% when all are
equal), **speed** is the time per image on this machine, measured as the rows below are drawn (latent diffusion: no prompt,
DPM-Solver++ 20 steps). The triangle places
each family by its three scores, each from 0 (the worst family here) to 1 (the best) (Xiao et al., *Tackling the
Generative Learning Trilemma*, 2022): near a corner means strong on that goal only, on an edge strong on two.
Change the diffusion model's sampler and steps and watch it move.
"""


@dataclass(frozen=True)
class Family:
    name: str
    sample: Callable[[int, int], torch.Tensor]  # (seed, n) -> images (n, 1, 28, 28) in [0, 1]
    card: Callable[[], dict]  # {"fd", "min_class_share", "training_minutes", optional "negative_elbo_nats"}


def _training_minutes(*names: str) -> float:
    total = 0.0
    for name in names:
        card = read_card(name)
        metrics = card["metrics"]
        total += metrics.get("total_training_seconds", metrics.get("training_seconds", card["wall_seconds"]))
    return round(total / 60, 1)


def _card_figures(name: str, fd_key: str = "fd_samples_vs_test") -> dict:
    metrics = read_card(name)["metrics"]
    return {
        "fd": metrics[fd_key],
        "min_class_share": metrics["min_class_share_of_samples"],
        "training_minutes": _training_minutes(name),
    }


# --- the families ---------------------------------------------------------------------------------------------


def _vae_samples(seed: int, n: int) -> torch.Tensor:
    model = vae.load(VAE_LATENT)
    with torch.inference_mode():
        return model.decode(latent.noise_from_seed(seed, VAE_LATENT, n)).float()


def _vae_card() -> dict:
    name = catalog.vae_checkpoint_name(VAE_LATENT)
    return _card_figures(name, "fd_prior_samples_vs_test") | {
        "negative_elbo_nats": read_card(name)["metrics"]["test_negative_elbo_nats"]
    }


def _gan_samples(seed: int, n: int) -> torch.Tensor:
    model = gan.load("gan")
    with torch.inference_mode(), inference_autocast():
        return model.generate(latent.noise_from_seed(seed, model.config.latent_dim, n)).float()


def _stylegan_samples(seed: int, n: int) -> torch.Tensor:
    model = stylegan.load()
    with torch.inference_mode(), inference_autocast():
        return model.synthesize(model.map(latent.noise_from_seed(seed, model.config.latent_dim, n))).float()


def _diffusion_family(sampler: str, steps: int) -> Family:
    def sample(seed: int, n: int) -> torch.Tensor:
        model = diffusion.load()
        with torch.inference_mode():
            final = samplers.last_step(
                samplers.sample(
                    in_precision(model, inference_bf16()),
                    (n, 1, 28, 28),
                    sampler,
                    steps,
                    generator(seed),
                    on=model_device(model),
                    x0_range=samplers.PIXEL_RANGE,
                )
            )
        return diffusion.to_image_range(final.x_t)

    def card() -> dict:
        row = next(r for r in diffusion_table() if (r["sampler"], r["steps"]) == (sampler, steps))
        return {
            "fd": row["fd"],
            "min_class_share": row["min_class_share"],
            "training_minutes": _training_minutes("ddpm"),
        }

    return Family(f"Diffusion ({SHOWN_SAMPLER[sampler]} {steps})", sample, card)


def _latent_samples(seed: int, n: int) -> torch.Tensor:
    model = latent_diffusion.load()
    run = model.sample("", n, 1.0, LDM_STEPS, generator(seed), sampler="dpm++", bf16=inference_bf16())
    with torch.inference_mode():
        return latent_diffusion.decode(model.autoencoder, samplers.last_step(run).x_t).float().clamp(0, 1)


def _latent_card() -> dict:
    unconditional = read_card(catalog.LDM_DENOISER_CHECKPOINT)["metrics"]["unconditional_dpm_solver_20"]
    return {
        "fd": unconditional["fd_samples_vs_test"],
        "min_class_share": min(unconditional["class_shares_of_samples"].values()),
        "training_minutes": _training_minutes(catalog.LDM_AUTOENCODER_CHECKPOINT, catalog.LDM_DENOISER_CHECKPOINT),
    }


def diffusion_table() -> list[dict]:
    """The pixel model's measured (sampler, steps) rows from its card: the choices the tab offers."""
    try:
        return read_card("ddpm")["metrics"].get("sampler_table", [])
    except CheckpointError:
        return []


def diffusion_choices() -> list[str]:
    return [f"{SHOWN_SAMPLER[r['sampler']]} {r['steps']}" for r in diffusion_table() if r["sampler"] in SHOWN_SAMPLER]


DEFAULT_DIFFUSION = "DPM-Solver++ 20"


def one_call_families() -> list[Family]:
    """The families that draw a sample in one network call (no choice of steps)."""
    return [
        Family(f"VAE ({VAE_LATENT}-D)", _vae_samples, _vae_card),
        Family("GAN (DCGAN)", _gan_samples, lambda: _card_figures("gan")),
        Family("StyleGAN", _stylegan_samples, lambda: _card_figures("stylegan")),
    ]


def families(diffusion_choice: str) -> list[Family]:
    shown, _, steps = diffusion_choice.rpartition(" ")
    if diffusion_choice not in diffusion_choices():
        raise ValueError(
            f"Choose the diffusion model's sampler and steps among {', '.join(diffusion_choices())}; "
            f"not {diffusion_choice!r}."
        )
    return [
        *one_call_families(),
        _diffusion_family(PIXEL_SAMPLERS[shown], int(steps)),
        Family("Latent diffusion (no prompt)", _latent_samples, _latent_card),
    ]


# --- measuring and showing ------------------------------------------------------------------------------------

_warmed: set[str] = set()


def timed(family: Family, seed: int) -> tuple[torch.Tensor, float]:
    """The row's images and milliseconds per image: one call, or the median of FAST_REPEATS for fast families
    (the first time a family is drawn, a one-image call loads its models before the clock starts)."""
    sample = family.sample
    if family.name not in _warmed:
        sample(seed, 1)
        _warmed.add(family.name)
    start = time.perf_counter()
    images = sample(seed, ROW)
    ms = 1000 * (time.perf_counter() - start) / ROW
    if ms < REPEAT_BELOW_MS:
        runs = []
        for _ in range(FAST_REPEATS):
            start = time.perf_counter()
            sample(seed, ROW)
            runs.append(1000 * (time.perf_counter() - start) / ROW)
        ms = statistics.median(runs)
    return images, ms


def table(figures: list[trilemma.FamilyFigures]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Family": f.family,
                "FD (quality, lower is better)": f.fd,
                "Rarest class (coverage)": f"{100 * f.min_class_share:.1f}%",
                "ms per image (speed, measured on this machine)": round(f.ms_per_image, 2),
                "Training (min, 2 CPU cores)": f.training_minutes,
                "log p(x) ≥ ELBO (nats per test image)": "–"
                if f.negative_elbo_nats is None
                else round(-f.negative_elbo_nats, 1),
            }
            for f in figures
        ]
    )


def claims_text(figures: list[trilemma.FamilyFigures]) -> str:
    c = trilemma.claims(figures)
    ratio = c.slowest.ms_per_image / max(c.fastest.ms_per_image, 1e-9)
    verdict = (
        f"**{c.all_three.family}** leads on all three here."
        if c.all_three
        else "**No family leads on all three: the trilemma holds here.**"
    )
    return (
        f"Sharpest: **{c.sharpest.family}** (FD {c.sharpest.fd:.1f}). "
        f"Widest coverage: **{c.widest_coverage.family}** (rarest class {100 * c.widest_coverage.min_class_share:.1f}%). "
        f"Fastest: **{c.fastest.family}** ({c.fastest.ms_per_image:.2f} ms per image), {ratio:,.0f} times faster "
        f"than the slowest, {c.slowest.family}. {verdict}"
    )


def trilemma_figure(figures: list[trilemma.FamilyFigures]):
    """The triangle (quality on top, coverage left, speed right) with a labelled point per family."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    scores = trilemma.scores(figures)
    figure = Figure(figsize=(6.4, 5.4), dpi=100)
    axes = figure.add_subplot()
    corners = trilemma.CORNERS
    outline = [corners["quality"], corners["coverage"], corners["speed"], corners["quality"]]
    axes.plot(*zip(*outline), color="#888", linewidth=1.5)
    labels = {
        "quality": ("High-quality samples", "center", "bottom", (0, 8)),
        "coverage": ("Mode coverage\n(diversity)", "center", "top", (0, -6)),
        "speed": ("Fast sampling", "center", "top", (0, -6)),
    }
    for axis, (text, ha, va, offset) in labels.items():
        axes.annotate(
            text, corners[axis], xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=15, fontweight="bold"
        )
    colours = ("#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd")
    for colour, f in zip(colours, figures):
        x, y = trilemma.triangle_point(scores[f.family])
        axes.scatter([x], [y], s=160, color=colour, zorder=3, edgecolor="white", linewidth=1.5)
        axes.annotate(
            f.family.split(" (")[0],
            (x, y),
            xytext=(9, 0),
            textcoords="offset points",
            va="center",
            fontsize=13,
            color=colour,
            fontweight="bold",
        )
    axes.set_title("The trilemma: each family placed by its three scores", fontsize=13, pad=26)
    axes.set_xlim(-0.15, 1.15)
    axes.set_ylim(-0.18, 1.0)
    axes.set_aspect("equal")
    axes.axis("off")
    figure.tight_layout()
    return figure


@friendly_errors
def compare(seed, diffusion_choice):
    """One seed -> a row of samples per family, the table, the trilemma chart and the computed claims."""
    seed = valid_seed(seed)
    rows, figures = [], []
    for family in families(diffusion_choice):
        images, ms = timed(family, seed)
        card = family.card()
        rows.append(image_grid(images.clamp(0, 1), columns=ROW, scale=3))
        figures.append(
            trilemma.FamilyFigures(
                family.name,
                card["fd"],
                card["min_class_share"],
                ms,
                card["training_minutes"],
                card.get("negative_elbo_nats"),
            )
        )
    labels = [
        gr.update(
            value=row,
            label=f"{f.family} · FD {f.fd:.1f} · rarest {100 * f.min_class_share:.1f}% · "
            f"{f.ms_per_image:.2f} ms per image",
        )
        for row, f in zip(rows, figures)
    ]
    return (*labels, table(figures), trilemma_figure(figures), claims_text(figures))


def build(tab: gr.Tab) -> None:
    checkpoint_notice(CHECKPOINTS)
    intro(INTRO)
    choices = diffusion_choices()
    with gr.Row(equal_height=True):
        seed = seed_input("Seed (every family)")
        choice = gr.Dropdown(
            choices,
            value=DEFAULT_DIFFUSION if DEFAULT_DIFFUSION in choices else None,
            label="Diffusion: sampler and steps",
            elem_id="overview-steps",
            info="the steps measured on its card",
            min_width=240,  # on a phone it takes a line of its own rather than cutting its value short
        )
        run_button = gr.Button("Sample every family", variant="primary")
    with gr.Row():
        with gr.Column(scale=3):
            rows = [
                output_image(
                    f"family {i + 1}", elem_id=f"overview-row-{i}", height=110, buttons=[]
                )  # labels carry numbers
                for i in range(5)
            ]
        with gr.Column(scale=2, min_width=320):
            chart = gr.Plot(show_label=False, elem_id="overview-chart", format="png")
    claims = gr.Markdown(elem_id="overview-claims")
    numbers = gr.Dataframe(interactive=False, elem_id="overview-table", wrap=True)
    outputs = [*rows, numbers, chart, claims]
    run_button.click(compare, [seed, choice], outputs, api_name="overview")
    choice.input(compare, [seed, choice], outputs, **private("overview_steps"))
    tab.select(default_compare, None, outputs, **private("overview_open"))


OPENING_NOTE = (
    "*The opening view (seed 0) was measured when the server started; press **Sample every family** "
    "to measure again now.* "
)
default_compare = opening_run(compare, (0, DEFAULT_DIFFUSION), -1, lambda claims: OPENING_NOTE + claims)


def warm_up() -> None:
    default_compare()
