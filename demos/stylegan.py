"""Tab "StyleGAN": the mapping network z -> w, truncation in W, Z vs W interpolation, style mixing."""

from __future__ import annotations

import functools
import re

import gradio as gr

from core import latent
from core.lazy import lazy_import
from core.runtime import inference_autocast
from demos.checks import MAX_GRID_SAMPLES, MAX_PATH_STEPS, bounded_float, bounded_int, valid_seed
from demos.common import (
    GRID_CLASS,
    GRID_HEIGHT,
    checkpoint_notice,
    class_legend,
    intro,
    output_image,
    private,
    seed_input,
    seed_path_controls,
)
from demos.errors import friendly_errors
from demos.render import grid_cell_px, image_grid, named_grid, scatter_codes

torch = lazy_import("torch")
stylegan = lazy_import("core.stylegan")
metrics = lazy_import("core.metrics")

SCATTER_SAMPLES = 600
SCATTER_SIZE = 360
INTRO = r"""
## StyleGAN: learn where the noise should go
A **mapping network** $f$ (an 8-layer MLP) turns the Gaussian $z$ into an intermediate code **$w = f(z)$** that can
take the data's shape; every layer of the synthesis network is steered by $w$.

A GAN's input $z$ is a smooth Gaussian; the data may be skewed and fragmented, and forcing one onto the other
distorts it: hence the mapping network. The synthesis network starts from a learned constant; every layer is
steered by $w$ through AdaIN, $\text{AdaIN}(x_i, y) = y_{s,i} \frac{x_i - \mu(x_i)}{\sigma(x_i)} + y_{b,i}$: normalise
each channel, then scale and shift it by a style $y = A(w)$.

**Truncation** trades variety for quality: $w' = \bar{w} + \psi\,(w - \bar{w})$ pulls each code towards the
average $\bar{w}$ ($\psi = 1$: none, $\psi = 0$: the average garment only).

Trained here at 28 px by `python -m core.train stylegan` (no noise inputs or progressive growing at this size).
"""
CROSSOVERS = {
    "coarse (7 px layers) from the row": 2,
    "coarse + middle (7-14 px) from the row": 4,
    "everything but the last layer from the row": 5,
}


def _w(model: stylegan.StyleGAN, seed: int, n: int = 1) -> torch.Tensor:
    with torch.inference_mode():
        return model.map(latent.noise_from_seed(seed, model.config.latent_dim, n))


@friendly_errors
def sample(seed, n, psi):
    """z ~ N(0, I) -> w = f(z) -> truncated w' = w_avg + psi (w - w_avg) -> images."""
    model = stylegan.load()
    n = bounded_int(n, "The number of samples", 1, MAX_GRID_SAMPLES)
    psi = bounded_float(psi, "Truncation psi", 0.0, 1.5)
    with torch.inference_mode(), inference_autocast():
        images = model.synthesize(stylegan.truncate(_w(model, valid_seed(seed), n), model.w_avg, psi)).float()
    return image_grid(images, columns=min(n, 8), scale=3)


@friendly_errors
def interpolate(seed_a, seed_b, steps):
    """The same two endpoints, walked in Z (straight line between z's) and in W (straight line between w's)."""
    model = stylegan.load()
    steps = bounded_int(steps, "The number of steps", 2, MAX_PATH_STEPS)
    dim = model.config.latent_dim
    z_a = latent.noise_from_seed(valid_seed(seed_a), dim)[0]
    z_b = latent.noise_from_seed(valid_seed(seed_b), dim)[0]
    t = torch.linspace(0, 1, steps)
    with torch.inference_mode(), inference_autocast():
        in_z = model.synthesize(model.map(latent.lerp(z_a, z_b, t))).float()
        w_a, w_b = model.map(torch.stack([z_a, z_b])).float()
        in_w = model.synthesize(latent.lerp(w_a, w_b, t)).float()
    return image_grid(in_z, columns=steps, scale=3), image_grid(in_w, columns=steps, scale=3)


@friendly_errors
def mix(row_seeds, column_seeds, crossover):
    """Style mixing: each cell takes its early layers' w from its row's seed and the rest from its column's."""
    model = stylegan.load()
    if not isinstance(crossover, str) or crossover not in CROSSOVERS:
        raise ValueError(f"Choose a crossover among: {', '.join(CROSSOVERS)}.")
    rows = _parse_seeds(row_seeds, "row")
    columns = _parse_seeds(column_seeds, "column")
    ws_rows = model.broadcast(torch.cat([_w(model, s) for s in rows]))
    ws_columns = model.broadcast(torch.cat([_w(model, s) for s in columns]))
    with torch.inference_mode(), inference_autocast():
        cells = [
            model.synthesize(
                stylegan.style_mix(ws_rows[r : r + 1], ws_columns[c : c + 1], CROSSOVERS[crossover])
            ).float()
            for r in range(len(rows))
            for c in range(len(columns))
        ]
        column_images = model.synthesize(ws_columns).float()
        row_images = model.synthesize(ws_rows).float()
    blank = torch.ones(1, 1, 28, 28)  # top-left corner of the table
    table = [blank, column_images]
    for r in range(len(rows)):
        table += [row_images[r : r + 1], torch.cat(cells[r * len(columns) : (r + 1) * len(columns)])]
    grid = image_grid(torch.cat(table), columns=len(columns) + 1, scale=3)
    cell = grid_cell_px(scale=3)
    return named_grid(
        grid,
        ["", *(f"seed {s}" for s in columns)],
        ["", *(f"seed {s}" for s in rows)],
        cell=(cell, cell),
        header=MIX_HEADER_PX,
        row_width=MIX_ROW_NAMES_PX,
    )


MIX_HEADER_PX, MIX_ROW_NAMES_PX = 24, 84  # the mixing table's margins for its seeds' names


def _parse_seeds(text, which: str) -> list[int]:
    parts = str(text).replace(",", " ").split()
    if not all(re.fullmatch(r"-?[0-9]{1,12}", part) for part in parts):  # ASCII digits: '²' is a digit to isdigit
        raise ValueError(f"The {which} seeds must be whole numbers separated by commas, e.g. '1, 2, 3'.")
    seeds = [valid_seed(int(part)) for part in parts]
    if not 1 <= len(seeds) <= 6:
        raise ValueError(f"Give between 1 and 6 {which} seeds, not {len(seeds)}.")
    return seeds


@friendly_errors
def z_versus_w(seed):
    return _z_versus_w(valid_seed(seed))


@functools.lru_cache(maxsize=8)  # the tab opens on seed 0: computed once per process
def _z_versus_w(seed: int):
    """1,000 codes in Z and their images in W, each projected on its principal plane and coloured by the class
    the evaluation classifier sees in G's output; with how well a nearest-centroid rule reads the class off each."""
    model = stylegan.load()
    z = latent.noise_from_seed(seed, model.config.latent_dim, SCATTER_SAMPLES)
    with torch.inference_mode():
        w = model.map(z)
        _, classes = metrics.classifier_outputs(metrics.load_classifier(), model.synthesize(w))
    pictures, scores = [], []
    for codes in (z, w):
        plane = stylegan.principal_plane(codes)
        scale = plane.abs().max().clamp(min=1e-8)
        pixels = ((plane / scale * 0.45 + 0.5) * SCATTER_SIZE).tolist()
        pictures.append(scatter_codes([(x, SCATTER_SIZE - y) for x, y in pixels], classes, SCATTER_SIZE, radius=2))
        scores.append(stylegan.nearest_centroid_accuracy(codes, classes))
    half = SCATTER_SAMPLES // 2
    text = (
        f"Class of the output read off the code by the nearest class centroid (fit on {half} codes, tested on "
        f"{half}): "
        f"**from z: {100 * scores[0]:.0f}%**, **from w: {100 * scores[1]:.0f}%** (chance: about 10%)."
    )
    return pictures[0], pictures[1], text + "<br>" + class_legend()


def build(tab: gr.Tab) -> None:
    intro(INTRO)
    checkpoint_notice(["stylegan"])
    with gr.Row(equal_height=True):
        seed = seed_input()
        count = gr.Slider(1, MAX_GRID_SAMPLES, value=32, step=1, label="Samples")
        psi = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation ψ (1: none)", elem_id="stylegan-psi")
        sample_button = gr.Button("Sample", variant="primary")
    samples = output_image("G(z) through w'", elem_id="stylegan-samples", height=GRID_HEIGHT, elem_classes=[GRID_CLASS])

    gr.Markdown("### Z against W: does the mapping network untangle the classes?")
    with gr.Row():
        z_map = output_image(f"{SCATTER_SAMPLES} codes z (principal plane)", height=SCATTER_SIZE + 40)
        w_map = output_image("Their w = f(z) (principal plane)", height=SCATTER_SIZE + 40)
    scatter_text = gr.Markdown()

    gr.Markdown("### Interpolation in Z beside interpolation in W (same endpoints)")
    seed_a, seed_b, steps, interpolate_button = seed_path_controls("Seed of a", "Seed of b")
    z_strip = output_image("In Z: synthesis(f((1 − t)·z_a + t·z_b))")
    w_strip = output_image("In W: synthesis((1 − t)·w_a + t·w_b)")

    gr.Markdown("### Style mixing: early layers from one code, late layers from another")
    with gr.Row():
        row_seeds = gr.Textbox(value="10, 11, 12, 13", label="Row seeds (give the early layers)")
        column_seeds = gr.Textbox(value="20, 21, 22, 23, 24", label="Column seeds (give the rest)")
        crossover = gr.Dropdown(list(CROSSOVERS), value=next(iter(CROSSOVERS)), label="Crossover")
        mix_button = gr.Button("Mix", variant="primary")
    mixed = output_image("Top row: column sources; left column: row sources; cells: mixed", elem_id="stylegan-mixing")

    tab.select(sample, [seed, count, psi], samples, **private("stylegan_open")).then(
        z_versus_w, seed, [z_map, w_map, scatter_text], **private("stylegan_open_maps")
    ).then(interpolate, [seed_a, seed_b, steps], [z_strip, w_strip], **private("stylegan_open_interpolation")).then(
        mix, [row_seeds, column_seeds, crossover], mixed, **private("stylegan_open_mixing")
    )
    sample_button.click(sample, [seed, count, psi], samples, api_name="stylegan_sample")
    psi.release(sample, [seed, count, psi], samples, **private("stylegan_truncate"))
    interpolate_button.click(interpolate, [seed_a, seed_b, steps], [z_strip, w_strip], api_name="stylegan_interpolate")
    mix_button.click(mix, [row_seeds, column_seeds, crossover], mixed, api_name="stylegan_mix")


def warm_up() -> None:
    """Load StyleGAN and compute the seed-0 maps of Z and W the tab opens on (1-2 s)."""
    z_versus_w(0)
