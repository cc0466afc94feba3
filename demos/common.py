"""UI pieces every tab shares: intros, checkpoint notices, image inputs and outputs, example galleries, seeds."""

from __future__ import annotations

from collections.abc import Iterable

import gradio as gr
import numpy as np
from PIL import Image

from core.checkpoints import checkpoint_path, rebuild_command
from core.datasets import FASHION_CLASSES, load_sample
from core.images import EmptyImageError, to_model_input
from demos.checks import MAX_PATH_STEPS, MAX_SEED
from demos.errors import friendly_errors
from demos.render import CLASS_COLOURS, to_display

DISPLAY_SCALE = 8  # 28 px -> 224 px, nearest neighbour: crisp pixels on a projector

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def intro(text: str, more_label: str = "What this shows") -> gr.Markdown:
    """A tab's opening text: its heading and first paragraph (a sentence or two) on screen, the rest of `text`
    in a collapsed accordion, so that the controls and the result share the first screen of a projector.
    Formulas between $ signs render as LaTeX."""
    lead, _, details = text.strip().partition("\n\n")
    shown = gr.Markdown(lead, latex_delimiters=LATEX, elem_classes=["tab-lead"])
    if details.strip():
        with gr.Accordion(more_label, open=False):
            gr.Markdown(details, latex_delimiters=LATEX)
    return shown


def colour_legend(entries: Iterable[tuple[str, str]]) -> str:
    """HTML for a figure's legend in the page's own font: a coloured dot before each name, for (colour, name)."""
    return " ".join(f'<span style="color:{colour}">●</span>&nbsp;{name}' for colour, name in entries)


def class_legend() -> str:
    """The ten classes in demos.render.CLASS_COLOURS, as the scatter plots colour them."""
    return colour_legend(zip(CLASS_COLOURS, FASHION_CLASSES))


def missing_checkpoints(names: Iterable[str]) -> list[str]:
    """Checkpoint folders that are absent (cheap: no loading). Corrupt ones surface when first used."""
    return [name for name in names if not (checkpoint_path(name) / "config.json").is_file()]


def checkpoint_notice(names: Iterable[str]) -> gr.Markdown:
    """A warning at the top of a tab when its checkpoints are missing, naming the commands that rebuild them."""
    missing = missing_checkpoints(names)
    text = ""
    if missing:
        commands = "\n".join(f"- `{rebuild_command(name)}`" for name in missing)
        text = (
            f"**Missing checkpoints:** {', '.join(missing)}. The rest of the app works without them; "
            f"rebuild them with:\n\n{commands}"
        )
    return gr.Markdown(text, visible=bool(missing), elem_classes=["checkpoint-notice"])


def image_input(label: str = "Input image", value=None) -> gr.Image:
    """An image input. value: the picture it opens with (a tab then computes its result from it in one round trip,
    where filling it on opening costs two: the picture to the page, then back with the change event)."""
    # PIL, not numpy: a palette, 16-bit or CMYK file keeps its meaning (core.images.to_pil reads every mode)
    return gr.Image(value=value, label=label, type="pil", image_mode=None, sources=["upload", "clipboard"], height=240)


def drawing_image(value):
    """A Sketchpad's value, {"background", "layers", "composite"} -> the picture drawn (its composite, else its
    background); any other image is passed on as it is."""
    if isinstance(value, dict):
        value = value.get("composite") if value.get("composite") is not None else value.get("background")
        if value is None:
            raise EmptyImageError("The drawing is empty.")
    return value


def sketchpad(label: str = "Draw one garment") -> gr.Sketchpad:
    # A small canvas keeps each upload cheap; strokes come back opaque on a transparent RGBA canvas.
    return gr.Sketchpad(
        label=label,
        type="numpy",
        canvas_size=(280, 280),
        height=340,
        layers=False,
        brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
    )


GRID_HEIGHT = 440  # px: a sample grid's box; 4 rows of samples at about 100 px each (a projector's back row)
GRID_CLASS = "grid-output"  # sample grids: presenter mode makes their boxes taller (demos/page.py's CSS)
FEW_ROWS_CLASS = "grid-few-rows"  # a short, wide picture (a grid of at most 2 rows by default): presenter mode may
# make its box lower, and on a phone the box fits the picture (demos/page.py's CSS)


def output_image(label: str, elem_id: str | None = None, height: int | None = 240, **options) -> gr.Image:
    """A picture a handler returns (PIL), shown as PNG. height None: Gradio's default; options: any other gr.Image
    setting (elem_classes, ...)."""
    # PNG, not Gradio's default WebP: lossy compression smears the crisp upscaled pixels.
    return gr.Image(label=label, type="pil", format="png", height=height, interactive=False, elem_id=elem_id, **options)


def output_gallery(label: str, columns: int = 4, elem_id: str | None = None) -> gr.Gallery:
    return gr.Gallery(label=label, columns=columns, height="auto", format="png", object_fit="contain", elem_id=elem_id)


def picker_gallery(
    items: list, label: str, columns: int, height: int, elem_id: str | None = None, **options
) -> gr.Gallery:
    """Example pictures to click, (image, caption) each: a click opens no preview, its `.select` event gives the
    position. options: any other gr.Gallery setting (object_fit, ...)."""
    return gr.Gallery(
        items,
        label=label,
        columns=columns,
        height=height,
        allow_preview=False,
        format="png",
        elem_id=elem_id,
        **options,
    )


def private(api_name: str) -> dict[str, str]:
    """An event's keywords for UI glue (filling a panel, showing a pick): named `api_name`, kept off the API page
    and out of API clients' reach. Pass them on with `**private("name")`."""
    return {"api_name": api_name, "api_visibility": "private"}


def display(image) -> Image.Image:
    return to_display(image, scale=DISPLAY_SCALE)


def example_indices(per_class: int = 1) -> list[int]:
    """Indices of the first `per_class` bundled sample images of each class, in class order."""
    labels = load_sample().labels
    return [int(i) for c in range(len(FASHION_CLASSES)) for i in np.flatnonzero(labels == c)[:per_class]]


def sample_gallery(
    label: str = "Examples: held-out Fashion-MNIST test images", elem_id: str | None = None
) -> gr.Gallery:
    """One bundled test image per class; `.select` gives the position, `example_indices()[position]` the image."""
    sample = load_sample()
    items = [(display(sample.images[i] / 255.0), FASHION_CLASSES[sample.labels[i]]) for i in example_indices()]
    return picker_gallery(items, label, columns=5, height=280, elem_id=elem_id, object_fit="contain")


def garment_examples(
    classes: Iterable[int] = range(len(FASHION_CLASSES)), per_class: int = 1, scale: int = 4
) -> list[tuple[np.ndarray, str]]:
    """(bundled held-out image, upscaled crisply, as an array; its class name) for a gallery, class by class."""
    sample = load_sample()
    return [
        (np.asarray(to_display(sample.images[i] / 255.0, scale=scale)), FASHION_CLASSES[c])
        for c in classes
        for i in np.flatnonzero(sample.labels == c)[:per_class]
    ]


def sample_image(position: int) -> np.ndarray:
    """The example gallery's image at `position`, upscaled as shown (to_model_input undoes the upscaling)."""
    indices = example_indices()
    return np.asarray(display(load_sample().images[indices[int(position) % len(indices)]] / 255.0))


def image_sources(
    target: gr.Image, prefix: str, extra_examples: dict[str, Image.Image] | None = None, extra_label: str = ""
) -> None:
    """Tabs under an input image: example galleries and a drawing canvas, each filling `target` when used.

    The events are UI glue: private, named `<prefix>_pick_example` etc.
    """
    with gr.Tabs():
        with gr.Tab("Examples"):
            examples = sample_gallery(elem_id=f"{prefix}-examples")
            if extra_examples:
                names = list(extra_examples)
                extra = picker_gallery(
                    [(image, name) for name, image in extra_examples.items()], extra_label, columns=4, height=160
                )
        with gr.Tab("Draw"):
            sketch = sketchpad()
            draw_button = gr.Button("Use drawing")

    def pick_example(evt: gr.SelectData):
        return sample_image(evt.index)

    examples.select(pick_example, None, target, **private(f"{prefix}_pick_example"))
    if extra_examples:

        def pick_extra(evt: gr.SelectData):
            return extra_examples[names[evt.index]]

        extra.select(pick_extra, None, target, **private(f"{prefix}_pick_extra"))

    def use_drawing(drawing):
        return display(to_model_input(drawing_image(drawing)))

    draw_button.click(
        friendly_errors(use_drawing, uses_models=False), sketch, target, **private(f"{prefix}_use_drawing")
    )


def seed_input(label: str = "Seed", value: int = 0) -> gr.Number:
    return gr.Number(value=value, precision=0, minimum=0, maximum=MAX_SEED, label=label)


def seed_path_controls(label_a: str = "Seed of z_a", label_b: str = "Seed of z_b"):
    """A row: two seeds (the path's ends), a step count and an Interpolate button."""
    with gr.Row():
        seed_a = seed_input(label_a, 1)
        seed_b = seed_input(label_b, 2)
        steps = gr.Slider(2, MAX_PATH_STEPS, value=10, step=1, label="Steps")
        button = gr.Button("Interpolate", variant="primary")
    return seed_a, seed_b, steps, button
