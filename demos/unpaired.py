"""Unpaired translation tab: sneakers <-> ankle boots with DualGAN/CycleGAN's two generators and the cycle back."""

from __future__ import annotations

import gradio as gr
import numpy as np

from core import catalog
from core.checkpoints import CheckpointError, read_card
from core.datasets import FASHION_CLASSES, load_sample
from core.images import to_model_input
from core.lazy import lazy_import
from demos import common
from demos.errors import friendly_errors
from demos.render import (
    HEAT_COLD,
    HEAT_HOT,
    grid_cell_px,
    heat_image,
    image_grid,
    named_grid,
    to_display,
    with_colour_bar,
)

torch = lazy_import("torch")
unpaired = lazy_import("core.unpaired")
metrics = lazy_import("core.metrics")

DOMAIN_U, DOMAIN_V = catalog.unpaired_domains()  # the tab's labels follow the checkpoint it will load
SHOES_LABEL = "Held-out shoes: click one (it sets the direction)"
DIRECTION_CHOICES = [
    (f"{FASHION_CLASSES[DOMAIN_U]} → {FASHION_CLASSES[DOMAIN_V]} (G_A: U → V)", "u->v"),
    (f"{FASHION_CLASSES[DOMAIN_V]} → {FASHION_CLASSES[DOMAIN_U]} (G_B: V → U)", "v->u"),
]
EXAMPLES_PER_DOMAIN = 8
ERROR_MAP_MAX = 0.25  # the cycle error shown fully blue: a pixel off by a quarter of the range (mean errors are ~0.05)

INTRO = rf"""
## Unpaired translation: DualGAN / CycleGAN
pix2pix needs pairs $(x, y)$. Here there are none: only a pile of **{FASHION_CLASSES[DOMAIN_U]}s** (domain U) and a
separate pile of **{FASHION_CLASSES[DOMAIN_V]}s** (domain V); a **cycle** back to the input replaces the pairs.

In DualGAN's notation, as in the lecture:

- **$G_A$**: U → V and **$G_B$**: V → U (two pix2pix-style U-Nets); **$D_A$** tells real $v$ from $G_A(u)$,
  **$D_B$** real $u$ from $G_B(v)$ (two PatchGANs).
- **Cycle loss**: $\lambda_U \lVert u - G_B(G_A(u)) \rVert + \lambda_V \lVert v - G_A(G_B(v)) \rVert$. A translation must look like the other domain
  *and* keep enough of the input to come back: that is what replaces the missing pairs.
- The lecture writes DualGAN's Wasserstein terms ($-D_B(G_B(v)) - D_A(G_A(u))$ for the generators). The shipped
  model uses CycleGAN's least-squares form of the same terms, which trains stably on a CPU without weight clipping.

Pick a held-out shoe, upload or draw one, and choose a direction: you see the translation, the way back, and
where the round trip lost something (the cycle error).
"""


def held_out_examples() -> list[tuple[np.ndarray, str, str]]:
    """(image as shown, caption, direction it starts) for the bundled test images of both domains."""
    return [
        (image, caption, direction)
        for label, direction in ((DOMAIN_U, "u->v"), (DOMAIN_V, "v->u"))
        for image, caption in common.garment_examples([label], EXAMPLES_PER_DOMAIN)
    ]


def classifier_reading(images: torch.Tensor) -> list[tuple[str, float]]:
    """The evaluation classifier's top class and its probability for each image, or [] without a classifier."""
    classifier = metrics.classifier_if_trained()
    return [] if classifier is None else metrics.top_classes(classifier, images)


@friendly_errors
def translate(image, direction: str = "u->v"):
    """Image, direction ('u->v' or 'v->u') -> (translated, cycled back, cycle error map, a note)."""
    direction = unpaired.check_direction(direction)
    x = to_model_input(common.drawing_image(image))  # an upload, an example or a drawing
    model = unpaired.load()
    with torch.inference_mode():
        translated, cycled = model.cycle(x, direction)
        errors = unpaired.error_map(x, cycled)
    source, target = model.domain_names if direction == "u->v" else model.domain_names[::-1]
    readings = classifier_reading(torch.cat([x, translated, cycled]))
    lines = [f"Cycle error: mean |x − cycled| = {errors.mean().item():.3f} (largest {errors.max().item():.2f})."]
    if readings:
        lines.append(
            "The evaluation classifier reads: "
            + " · ".join(
                f"{what} **{name}** ({p:.0%})"
                for what, (name, p) in zip(("input", "translation", "cycled back"), readings)
            )
        )
        if readings[1][0] != target:
            lines.append(
                f"This translation did not come out as a {target}: the model was trained on "
                f"{source}s and {target}s only, and does not always succeed (the card's rate is below)."
            )
    return (
        to_display(translated[0], common.DISPLAY_SCALE),
        to_display(cycled[0], common.DISPLAY_SCALE),
        with_colour_bar(
            heat_image(errors[0, 0], common.DISPLAY_SCALE, ERROR_MAP_MAX),
            [HEAT_COLD, HEAT_HOT],
            ["0", f"{ERROR_MAP_MAX:g} or more"],
        ),
        "\n\n".join(lines),
    )


def retranslate(image, direction: str):
    """A new direction for the image already shown; nothing to do before an image is chosen."""
    if image is None:
        return (gr.skip(),) * 4
    return translate(image, direction)


@friendly_errors
def translate_grid():
    """Eight held-out images of each domain: rows input, translation, cycled back (U first, then V)."""
    model = unpaired.load()
    sample = load_sample()
    rows = []
    with torch.inference_mode():
        for label, direction in ((DOMAIN_U, "u->v"), (DOMAIN_V, "v->u")):
            index = np.flatnonzero(sample.labels == label)[:EXAMPLES_PER_DOMAIN]
            x = torch.from_numpy(sample.images[index]).float().div(255).unsqueeze(1)
            translated, cycled = model.cycle(x, direction)
            rows += [x, translated, cycled]
    grid = image_grid(torch.cat(rows), columns=EXAMPLES_PER_DOMAIN, scale=4)
    u, v = FASHION_CLASSES[DOMAIN_U].lower(), FASHION_CLASSES[DOMAIN_V].lower()
    names = [f"u: {u}", "G_A(u)", "G_B(G_A(u))", f"v: {v}", "G_B(v)", "G_A(G_B(v))"]
    return named_grid(grid, [], names, cell=(grid_cell_px(scale=4),) * 2, header=4, row_width=GRID_ROW_NAMES_PX)


GRID_ROW_NAMES_PX = 110  # the grid's margin for its row names


def measured_text() -> str:
    try:
        figures = read_card(catalog.UNPAIRED_CHECKPOINT).get("metrics", {})
    except CheckpointError as error:
        return f"*{error}*"
    domains = figures.get("domains", {})
    u, v = domains.get("u", FASHION_CLASSES[DOMAIN_U]), domains.get("v", FASHION_CLASSES[DOMAIN_V])
    lines = ["**Measured on the held-out test images (card):**"]
    for key, source, target in (("u_to_v", u, v), ("v_to_u", v, u)):
        rate = figures.get(f"{key}_success_rate")
        baseline = figures.get(f"{key}_untranslated_read_as_target")
        read = f"**{rate:.1%}** of translations read as {target}" if rate is not None else "no classifier figures"
        before = f" ({baseline:.1%} of untranslated {source}s)" if baseline is not None else ""
        lines.append(f"- {source} → {target}: {read}{before}; mean cycle L1 {figures.get(f'{key}_cycle_l1', '–')}")
    return "\n".join(lines)


def build(tab: gr.Tab) -> None:
    common.intro(INTRO)
    common.checkpoint_notice([catalog.UNPAIRED_CHECKPOINT])
    examples = held_out_examples()
    with gr.Row():
        with gr.Column(scale=1):
            direction = gr.Radio(DIRECTION_CHOICES, value="u->v", label="Direction")
            with gr.Tabs():
                with gr.Tab("Shoes"):
                    shoes = [(image, caption) for image, caption, _ in examples]
                    gallery = common.picker_gallery(shoes, SHOES_LABEL, 6, 300, "unpaired-examples")
                with gr.Tab("Upload"):
                    upload = common.image_input("A shoe")
                    upload_button = gr.Button("Translate", variant="primary")
                with gr.Tab("Draw"):
                    drawing = common.sketchpad("Draw a shoe (filled shapes)")
                    draw_button = gr.Button("Translate the drawing", variant="primary")
        with gr.Column(scale=2):
            source = common.output_image("Input x", elem_id="unpaired-input")
            gr.Markdown("The translation G_A(u) (or G_B(v)), the way back, and where the round trip lost something:")
            with gr.Row():
                translated = common.output_image("Translated", elem_id="unpaired-translated")
                cycled = common.output_image("Cycled back", elem_id="unpaired-cycled")
                # no toolbar: in a third of the row its icons covered the label's |x − cycled|
                error = common.output_image("Cycle error |x − cycled|", elem_id="unpaired-error", buttons=[])
            note = gr.Markdown()
    gr.Markdown("### Both directions on held-out shoes")
    with gr.Row():
        grid = common.output_image(
            "Held-out shoes both ways, and their cycles back", elem_id="unpaired-grid", height=520
        )
        gr.Markdown(measured_text())

    outputs = [translated, cycled, error, note]

    def shown(image):
        return to_display(to_model_input(common.drawing_image(image)), common.DISPLAY_SCALE)

    def pick(evt: gr.SelectData):
        image, _, chosen = examples[evt.index]
        return (shown(image), chosen, *translate(image, chosen))

    gallery.select(pick, None, [source, direction, *outputs], **common.private("unpaired_pick"))
    show = friendly_errors(shown, uses_models=False)

    def show_then_translate(button: gr.Button, picture: gr.Component, show_name: str, **translate_api) -> None:
        """`button` shows `picture` as the input x (privately, as `show_name`), then translates it."""
        button.click(show, picture, source, **common.private(show_name)).success(
            translate, [picture, direction], outputs, **translate_api
        )

    show_then_translate(upload_button, upload, "unpaired_show_upload", api_name="translate")
    show_then_translate(draw_button, drawing, "unpaired_show_drawing", **common.private("unpaired_drawing"))
    direction.input(retranslate, [source, direction], outputs, **common.private("unpaired_direction"))

    @friendly_errors
    def first_example():
        image, _, chosen = examples[0]
        return (shown(image), chosen, *translate(image, chosen))

    tab.select(first_example, None, [source, direction, *outputs], **common.private("unpaired_open")).then(
        translate_grid, None, grid, **common.private("unpaired_open_grid")
    )


def warm_up() -> None:
    translate_grid()
