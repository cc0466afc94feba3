"""UI helpers every tab shares: error translation, checkpoint notices, image inputs, example galleries."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import gradio as gr
import numpy as np
import torch
from PIL import Image

from core.checkpoints import CheckpointError, checkpoint_path, rebuild_command
from core.datasets import FASHION_CLASSES, DatasetNotFoundError, load_sample
from core.images import EmptyImageError, PictureFileError, to_model_input
from core.runtime import COMPUTE, gpu, on_zero_gpu
from demos import intake
from demos.render import CLASS_COLOURS, to_display

T = TypeVar("T")
log = logging.getLogger(__name__)
DISPLAY_SCALE = 8  # 28 px -> 224 px, nearest neighbour: crisp pixels on a projector

PRESENTABLE_ERRORS = (EmptyImageError, CheckpointError, DatasetNotFoundError, ValueError, TypeError)
EMPTY_IMAGE_ADVICE = "Pick an example, upload a picture or draw one."


def presentable(error: Exception, where: str) -> gr.Error:
    """The gr.Error the page shows for `error`: its own sentence for the errors core raises on bad input (with what to
    do about an empty image or a bad picture file), a plain "internal error" for a bug (logged with its traceback,
    naming `where`)."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, EmptyImageError):
        return gr.Error(f"{error} {EMPTY_IMAGE_ADVICE}", title="Cannot do that")
    if isinstance(error, PictureFileError):
        return gr.Error(intake.picture_advice(error), title="Cannot do that")
    if isinstance(error, PRESENTABLE_ERRORS):
        return gr.Error(str(error), title="Cannot do that")
    log.exception("handler %s failed", where)  # a bug: say so plainly, details in the server log
    return gr.Error(f"Internal error ({type(error).__name__}); the server log has the details.")


GPU_SECONDS, LONG_RUN_GPU_SECONDS = 30, 120  # the ZeroGPU lease of a call and of a streamed run


def friendly_errors(
    handler: Callable[..., T], threads: int | None = None, uses_models: bool = True
) -> Callable[..., T]:
    """Run a handler on the compute worker and turn the errors core raises into a gr.Error a presenter can act on;
    the app keeps running.

    Plain handlers are light calls: they go before the next step of any long run. Streaming (generator) handlers
    are long runs (samplers, live training): each step goes to the worker as its own job, and their errors arise
    while iterating. `threads`: intra-op threads for this handler's jobs (None: the worker's default).

    On a ZeroGPU Space a handler that `uses_models` runs under `spaces.GPU` instead, in the event's thread:
    ZeroGPU lends the GPU per call and queues the calls itself. Handlers with no network (the divergence numbers,
    the toy GAN's two small MLPs, showing a drawing) say uses_models=False and stay on the CPU worker. The
    wrapper's `zero_gpu` attribute holds the spaces.GPU function, or None."""

    def translate(error: Exception) -> gr.Error:
        return presentable(error, handler.__name__)

    streams = inspect.isgeneratorfunction(handler)
    on_gpu = gpu(handler, LONG_RUN_GPU_SECONDS if streams else GPU_SECONDS) if uses_models and on_zero_gpu() else None

    if streams:

        @functools.wraps(handler)
        def streaming(*args, **kwargs):
            for note in intake.notes(args):
                gr.Warning(note)
            try:
                if on_gpu is not None:
                    yield from on_gpu(*args, **kwargs)
                else:
                    yield from COMPUTE.iterate(handler(*args, **kwargs), COMPUTE.LONG_RUN, threads)
            except Exception as error:
                raise translate(error) from error

        streaming.zero_gpu = on_gpu
        return streaming

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        for note in intake.notes(args):  # here, in the event's thread, a warning reaches the page
            gr.Warning(note)
        try:
            if on_gpu is not None:
                return on_gpu(*args, **kwargs)
            return COMPUTE.run(lambda: handler(*args, **kwargs), COMPUTE.LIGHT, threads)
        except Exception as error:
            raise translate(error) from error

    wrapped.zero_gpu = on_gpu
    return wrapped


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
FEW_ROWS_CLASS = "grid-few-rows"  # a grid of at most 2 rows by default: presenter mode may make its box lower


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


# --- argument checks for values that arrive through the API unchecked ----------------------------------------


def bounded_int(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, not {value!r}.")
    try:
        number = float(value) if not isinstance(value, int) else value
        if number != int(number):  # 2.7 is not silently 2
            raise ValueError
        number = int(number)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity arrives through the JSON API
        raise ValueError(f"{name} must be a whole number, not {value!r}.") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must lie between {low} and {high}, not {number}.")
    return number


def bounded_float(value, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}.") from None
    if not low <= number <= high:  # also rejects NaN
        raise ValueError(f"{name} must lie between {low} and {high}, not {number}.")
    return number


MAX_SEED = 2**31 - 1
MAX_GRID_SAMPLES = 64  # images in one sample grid
MAX_PATH_STEPS = 16  # images along one interpolation strip


def valid_seed(value) -> int:
    return bounded_int(value, "The seed", 0, MAX_SEED)


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


# --- streaming a sampler's steps -------------------------------------------------------------------------------

# Every long run (a sampler, live training) shares one Gradio concurrency group: at most two at once, taking turns
# step by step on the compute worker; the rest wait in the queue, which shows their place, up to
# MAX_WAITING_LONG_RUNS: past that a click is told at once that the server is busy (demos.serving.limit_waiting),
# since each waiting run adds seconds to the wait of all behind it. Measured, 60 students with 10% heavy calls on
# 2 cores, run p50 / p95: unbounded 86 / 127 s; 4 waiting 22 / 28 s; 2 waiting 16 / 20 s (light calls p95 0.4 s
# in both). Giving runs a share of the worker when light calls wait made them faster but the class's clicks slow
# (light p50 3.6 s), so light calls keep going first.
LONG_RUN_QUEUE = {"concurrency_id": "long_run", "concurrency_limit": 2}
MAX_WAITING_LONG_RUNS = 2
FRAME_INTERVAL_S = 0.1  # the shortest stretch of sampler compute between two shown frames
FRAME_INTERVAL_MAX_S = 0.5  # and the longest (a 1,000-step DDPM run still moves twice a second)
FRAMES_PER_RUN = 12  # what a run aims to show between those bounds: each frame costs an encode and a fetch
MAX_SNAPSHOTS = 100  # steps a replay keeps (every step of a short run, every 10th of DDPM's 1,000)


@dataclass
class Frame:
    """One rendered step of a sampler run: whether to show it now and whether a replay keeps it."""

    item: Any  # core.diffusion.DiffusionStep
    pictures: tuple
    show: bool
    keep: bool
    elapsed: float  # seconds since the run started, the time spent showing frames included


@torch.inference_mode()  # on a generator, torch enters the mode at each resume: the worker may resume it
def stream_steps(steps: Iterable, render: Callable[[Any], tuple], keep_every: int | None = None) -> Iterator[Frame]:
    """Run a sampler to the end, rendering a step when it is shown or kept for a replay (the first, every
    keep_every-th and the last; None keeps none).

    A step is shown when the sampler has computed for one frame interval since the last shown frame, and the last
    step always. The interval aims at FRAMES_PER_RUN frames, from the mean step time so far, within
    [FRAME_INTERVAL_S, FRAME_INTERVAL_MAX_S]. Its clock stops while this generator is suspended (the server
    encoding and sending a frame): counted in wall time, frames that cost more than the interval would make every
    step a frame and slow the run down."""
    start = mark = time.perf_counter()  # mark: where the current stretch of compute began
    computed = 0.0  # seconds of compute in earlier stretches since the last shown frame
    total_compute = 0.0
    for item in steps:
        now = time.perf_counter()
        stretch = computed + now - mark
        mean_step = (total_compute + now - mark) / item.step
        interval = min(max(mean_step * item.total / FRAMES_PER_RUN, FRAME_INTERVAL_S), FRAME_INTERVAL_MAX_S)
        final = item.step == item.total
        show = final or stretch >= interval
        keep = keep_every is not None and (final or item.step == 1 or item.step % keep_every == 0)
        if show or keep:
            pictures = render(item)
            now = time.perf_counter()
            total_compute += now - mark
            computed = 0.0 if show else computed + now - mark
            yield Frame(item, pictures, show, keep, now - start)
            mark = time.perf_counter()


def opening_run(
    handler: Callable, args: tuple, status_index: int, status: str | Callable[[str], str]
) -> Callable[[], tuple]:
    """What a tab shows as it opens: `handler`'s result for `args` (a streaming handler's last frame), computed once
    (the background warm-up does it) and remembered, not per visitor; output `status_index` replaced by `status`, or
    by status(the handler's own text) when it is a function."""

    @functools.lru_cache(maxsize=1)
    def last_frame() -> tuple:
        last = handler.__wrapped__(*args)  # the handler itself, already on the worker
        if inspect.isgenerator(last):
            *_, last = last
        i = status_index % len(last)
        return (*last[:i], status(last[i]) if callable(status) else status, *last[i + 1 :])

    def shown() -> tuple:
        return fresh_updates(last_frame())

    return friendly_errors(functools.wraps(last_frame)(shown))


def fresh_updates(outputs: tuple) -> tuple:
    """A remembered result handed out again: a copy of each gr.update dict, since Gradio pops "value" out of an
    update as it sends it (the second visitor would get the component without its value)."""
    return tuple(dict(output) if isinstance(output, dict) else output for output in outputs)


def replay_stride(total_steps: int) -> int:
    """Keep every n-th step so that a replay holds at most MAX_SNAPSHOTS of them."""
    return max(1, -(-total_steps // MAX_SNAPSHOTS))
