"""Tab "Latent diffusion": text -> image as in Stable Diffusion, small: denoise a 4x8x8 latent, decode it."""

from __future__ import annotations

import functools

import gradio as gr
import numpy as np
import pandas as pd

from core import catalog, diffusion, samplers
from core.captions import CLASS_PROMPT_NAMES, class_prompt
from core.checkpoints import CheckpointError, read_card
from core.lazy import lazy_import
from core.runtime import generator, in_precision, inference_bf16, milliseconds_per_call
from demos.checks import bounded_float, bounded_int, valid_seed
from demos.common import FEW_ROWS_CLASS, GRID_CLASS, checkpoint_notice, intro, output_image, private, seed_input
from demos.errors import friendly_errors
from demos.render import image_grid, signed_to_rgb
from demos.streaming import long_run_events, opening_run, sampler_stream, stream_steps

torch = lazy_import("torch")
latent_diffusion = lazy_import("core.latent_diffusion")
clip_model = lazy_import("core.clip")

MAX_IMAGES = 8
MAX_GUIDANCE = 15.0
MAX_STEPS = 200  # each step is two U-Net calls (guidance); the measured ones also a decode and CLIP's look
CURVE_POINTS = 10  # steps the CLIP chart measures, about (a measurement costs as much as a guided U-Net step,
# on the frame worker beside the sampler)
STEP_CHOICES = tuple(n for n in samplers.ddim_step_counts() if n <= MAX_STEPS)  # DDIM's; DPM-Solver++ takes any
SAMPLERS = {"DPM-Solver++": "dpm++", "DDIM": "ddim"}  # shown name -> core.samplers.sample's (no DDPM: 1,000 steps)
PROMPT_CURVE, RIVAL_CURVE = "your prompt", "closest other class"
CHECKPOINTS = (catalog.LDM_AUTOENCODER_CHECKPOINT, catalog.LDM_DENOISER_CHECKPOINT, "clip")


PROMPTS = [class_prompt(name) for name in CLASS_PROMPT_NAMES] + [
    "a picture of a dark sneaker",
    "a light dress",
    "a handbag",
    "a pair of trousers on a black background",
]
INTRO = r"""
## Latent diffusion: text to image, as in Stable Diffusion
A U-Net denoises a small **latent** $z$ instead of the pixels, steered by your prompt through cross-attention;
a decoder D turns the result into an image.

Denoising 28x28 pixels is slow, so Stable Diffusion moves the diffusion into the **latent space of an
autoencoder** whose encoder E and decoder D are trained first and then fixed. Here E squeezes a garment (padded to
32x32) into a **4 x 8 x 8 latent** (256 numbers instead of 1,024); the U-Net denoises latents, and D turns the
result into pixels. The text reaches the U-Net through **cross-attention** on the token states of this app's own
CLIP text encoder (the CLIP tab). **Classifier-free guidance**: the U-Net also learned to denoise without text
(captions were dropped 10% of the time); each step mixes both predictions,
$\hat\varepsilon = \varepsilon_\theta(z_t, \varnothing) + w\,(\varepsilon_\theta(z_t, \text{text}) - \varepsilon_\theta(z_t, \varnothing))$.
$w = 0$ ignores the prompt, $w = 1$ is plain conditioning, larger $w$ follows the prompt harder (and costs variety).
**When does the prompt take hold?** Along the run (about ten steps of it, first and last included) CLIP
compares the decoded guess $D(\hat z_0)$ with your prompt: the chart plots that similarity beside the one to the
closest other class ("a photo of a …"); where the two lines part, the text has decided what the image is.
"""


def _grid(images: torch.Tensor) -> np.ndarray:
    n = len(images)
    return np.asarray(image_grid(images, columns=min(n, 4), scale=8 if n == 1 else 4))


def _decoded(model: latent_diffusion.LatentDiffusion, *latents: torch.Tensor) -> list[np.ndarray]:
    """Each batch of latents decoded and gridded: one decoder call for all (half the per-call overhead), in bf16
    where the samplers use it (the pictures move by at most 0.013 of the pixel range: measured, invisible)."""
    decode = in_precision(lambda z: latent_diffusion.decode(model.autoencoder, z), inference_bf16())
    images = decode(torch.cat(latents)).clamp(0, 1)
    return [_grid(part) for part in images.split([len(z) for z in latents])]


def _latent_view(z: torch.Tensor) -> np.ndarray:
    """The first image's latent: its 4 channels as 8x8 tiles, blue negative / red positive (each tile scaled alone)."""
    tiles = signed_to_rgb(z[0].unsqueeze(1))  # (4, 1, 8, 8) -> (4, 3, 8, 8)
    return np.asarray(image_grid(tiles, columns=4, scale=20, pad=2))


def _check_prompt(prompt) -> str:
    if prompt is None:
        prompt = ""
    if not isinstance(prompt, str):
        raise ValueError("The prompt must be text.")
    prompt = prompt.strip()
    if len(prompt) > catalog.LDM_MAX_PROMPT_CHARACTERS:
        raise ValueError(f"The prompt is {len(prompt)} characters long; at most {catalog.LDM_MAX_PROMPT_CHARACTERS}.")
    return prompt


def _prompt_note(model: latent_diffusion.LatentDiffusion, prompt: str) -> str:
    if not prompt:
        return "No prompt: the model samples **unconditionally** (any garment); guidance has no effect."
    unknown = clip_model.unknown_words(model.clip.tokenizer, prompt)
    if unknown:
        return (
            f"Words the text encoder never saw in training (read as 'unknown'): **{', '.join(unknown)}**. "
            "It knows the ten class names, some synonyms, 'dark'/'light' and the caption templates."
        )
    return ""


class PromptCurve:
    """The chart's rows, one pair per step: CLIP's similarity of the decoded guess to the prompt, and to the closest
    class prompt that is not the prompt itself (the rival it has to beat)."""

    def __init__(self, prompt: str):
        own = [i for i, name in enumerate(CLASS_PROMPT_NAMES) if class_prompt(name) == prompt]
        self.rivals = [i for i in range(len(CLASS_PROMPT_NAMES)) if i not in own]
        self.rows: list[tuple[int, float, str]] = []
        self.has_prompt = bool(prompt)

    def add(self, traced: latent_diffusion.TracedStep) -> None:
        if not traced.measured:
            return
        if self.has_prompt:
            self.rows.append((traced.step, traced.prompt_similarity, PROMPT_CURVE))
        self.rows.append((traced.step, max(traced.class_similarities[i] for i in self.rivals), RIVAL_CURVE))

    def frame(self, total: int) -> gr.LinePlot:
        data = pd.DataFrame(self.rows, columns=["step", "CLIP similarity", "curve"])
        return gr.LinePlot(data, x_lim=[1, max(total, 2)])


def curve_stride(steps: int) -> int:
    """Measure every n-th step for the chart (and the first and last): about CURVE_POINTS points whatever the
    run's length (DPM-Solver++ 20: every 2nd; DDIM 50: every 5th)."""
    return max(1, round(steps / CURVE_POINTS))


def _check_sampler(sampler) -> str:
    if sampler not in SAMPLERS:
        raise ValueError(f"Choose a sampler among {', '.join(SAMPLERS)}, not {sampler!r}.")
    return sampler


@sampler_stream
def text_to_image(prompt, guidance, steps, seed, n, sampler="DPM-Solver++"):
    """A prompt -> images: a fast sampler in latent space with classifier-free guidance; streams steps decoded
    (demos.streaming's pacing), with CLIP's similarity between the prompt and the decoded guess at about
    CURVE_POINTS steps. The decoding and CLIP run beside the sampler (stream_steps' `beside`)."""
    prompt = _check_prompt(prompt)
    sampler = _check_sampler(sampler)
    guidance = bounded_float(guidance, "The guidance scale w", 0.0, MAX_GUIDANCE)
    steps = samplers.check_step_count(SAMPLERS[sampler], bounded_int(steps, "The number of steps", 1, MAX_STEPS))
    n = bounded_int(n, "The number of images", 1, MAX_IMAGES)
    model = latent_diffusion.load()
    note = _prompt_note(model, prompt)
    bf16 = inference_bf16()
    run = model.sample(prompt, n, guidance, steps, generator(valid_seed(seed)), sampler=SAMPLERS[sampler], bf16=bf16)
    tracer = latent_diffusion.PromptTracer(model, prompt, bf16)
    curve = PromptCurve(prompt)
    every = curve_stride(steps)

    def render(item):  # a shown step, beside the sampler, in step order (demos.streaming.FRAME_WORKER)
        if samplers.on_stride(item.step, item.total, every):  # CLIP's look for the chart, z_t decoded with it
            traced = tracer.measure(item, with_x_t=True)
            curve.add(traced)
            decoded, guess = _grid(traced.x_t_image), _grid(traced.x0_image)
        else:  # a step between the chart's measurements
            decoded, guess = _decoded(model, item.x_t, item.x0_hat)
        return decoded, guess, _latent_view(item.x_t), curve.frame(item.total)

    def measure(item):  # a step the chart measures between two shown frames: CLIP's look, no pictures
        curve.add(tracer.measure(item))

    for frame in stream_steps(run, render, keep_every=every, beside=True, render_kept=measure):
        if not frame.show:  # a step measured for the chart, between two frames
            continue
        item = frame.item
        decoded, guess, latent_view, chart = frame.pictures
        status = (
            f"**{sampler} step {item.step} of {item.total}: t = {item.t} → {item.t_next}** · "
            f"{1000 * frame.elapsed / item.step:.1f} ms per step, decoding and CLIP included"
        )
        final = item.step == item.total
        yield (
            decoded,
            guess,
            latent_view,
            chart,
            "  \n".join(filter(None, [status, note])),
            decoded if final else gr.skip(),
        )


def sampler_table() -> pd.DataFrame:
    """From the card, at the default guidance: how often the evaluation classifier reads the prompted class, the
    weakest class, the blob share and FD, by sampler and step count."""
    columns = ["Sampler", "Steps", "Reads as the prompt", "Weakest class", "Blobs", "FD"]
    try:
        rows = read_card(catalog.LDM_DENOISER_CHECKPOINT)["metrics"].get("by_sampler_at_default_guidance", [])
    except CheckpointError:
        rows = []
    shown = {core: name for name, core in SAMPLERS.items()}

    def weakest(by_class: dict) -> str:
        name = min(by_class, key=by_class.get)
        return f"{name} {100 * by_class[name]:.0f}%"

    return pd.DataFrame(
        [
            [
                shown.get(r["sampler"], r["sampler"]),
                r["steps"],
                f"{100 * r['class_consistency']:.1f}%",
                weakest(r["class_consistency_by_class"]),
                f"{100 * r['blob_share']:.1f}%",
                r["fd_samples_vs_test"],
            ]
            for r in rows
        ],
        columns=columns,
    )


def measure_costs() -> pd.DataFrame:
    """Time one U-Net call for one image in pixel space (ddpm) and in latent space (ldm, both guidance branches),
    and put the training costs from the cards beside them."""
    rows = []
    pixel = diffusion.load()
    model = latent_diffusion.load()
    with torch.inference_mode():
        text = latent_diffusion.encode_text(model.clip, ["a photo of a sneaker"])
        empty = latent_diffusion.encode_text(model.clip, [""])
        guided = latent_diffusion.guided_noise(model.unet, text, empty, catalog.LDM_DEFAULT_GUIDANCE)
        cases = (
            ("pixel space (ddpm)", pixel, torch.zeros(1, 1, 28, 28), "ddpm"),
            ("latent space (ldm), with guidance", guided, torch.zeros(1, *latent_diffusion.LATENT_SHAPE), "ldm"),
        )
        for name, eps_model, x, card_name in cases:
            step_ms = milliseconds_per_call(functools.partial(eps_model, x, 500))
            network = pixel if card_name == "ddpm" else model.unet
            try:
                metrics = read_card(card_name)["metrics"]
                train = (
                    f"{metrics['seconds_per_training_step']:.2f} s per batch of 128; "
                    f"{metrics['training_seconds'] / 60:.0f} min in all"
                )
            except (CheckpointError, KeyError):
                train = "(no card)"
            rows.append(
                {
                    "space": name,
                    "numbers denoised per image": int(x[0].numel()),
                    "U-Net parameters": f"{sum(p.numel() for p in network.parameters()) / 1e6:.2f} M",
                    "one step, one image (ms)": round(step_ms, 1),
                    "training": train,
                }
            )
    return pd.DataFrame(rows)


DEFAULT_RUN = (PROMPTS[9], catalog.LDM_DEFAULT_GUIDANCE, 20, 0, 4, "DPM-Solver++")  # prompt, w, steps, seed,
# images, sampler


default_run = opening_run(  # what the tab shows as it opens
    text_to_image,
    DEFAULT_RUN,
    4,
    f'**The tab\'s default run** ("{DEFAULT_RUN[0]}", w = {DEFAULT_RUN[1]:g}, {DEFAULT_RUN[5]} {DEFAULT_RUN[2]} '
    f"steps, seed {DEFAULT_RUN[3]}), computed when the server started: press **Generate** for a run of your own.",
)


def build(tab: gr.Tab) -> None:
    checkpoint_notice(CHECKPOINTS)
    intro(INTRO)
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            prompt = gr.Textbox(
                value=DEFAULT_RUN[0],
                label="Prompt",
                max_lines=2,
                elem_id="ldm-prompt",
                max_length=catalog.LDM_MAX_PROMPT_CHARACTERS,
            )
            run_button = gr.Button("Generate", variant="primary")
            with gr.Row():
                guidance = gr.Slider(
                    0, MAX_GUIDANCE, value=catalog.LDM_DEFAULT_GUIDANCE, step=0.5, label="Guidance scale w"
                )
                n = gr.Slider(1, MAX_IMAGES, value=4, step=1, label="Images")
            with gr.Row():
                sampler = gr.Radio(list(SAMPLERS), value=DEFAULT_RUN[5], label="Sampler")
                steps = gr.Dropdown(list(STEP_CHOICES), value=DEFAULT_RUN[2], label="Steps")
                seed = seed_input("Seed of z_T")
            gr.Examples([[p] for p in PROMPTS], [prompt], label="Prompts", examples_per_page=14)
        with gr.Column(scale=2):
            status = gr.Markdown("Press **Generate**.", elem_id="ldm-status")
            with gr.Row():
                decoded = output_image(
                    "D(z_t): z_t decoded", elem_id="ldm-decoded", height=300, elem_classes=[GRID_CLASS, FEW_ROWS_CLASS]
                )
                guess = output_image(
                    "D(ẑ_0): the guess, decoded", height=300, elem_classes=[GRID_CLASS, FEW_ROWS_CLASS]
                )
            with gr.Row():
                latent_view = output_image("z_t of image 1 (blue −, red +)", height=200, elem_classes=[FEW_ROWS_CLASS])
                chart = gr.LinePlot(
                    x="step",
                    y="CLIP similarity",
                    color="curve",
                    height=260,
                    elem_id="ldm-clip-curve",
                    label="CLIP, step by step: your prompt (red) vs the closest other class (grey)",
                    color_map={PROMPT_CURVE: "#d62728", RIVAL_CURVE: "#7f7f7f"},
                )
            final = output_image("Final images", elem_id="ldm-final", visible=False)  # the API's last output
    table = sampler_table()
    if len(table):
        with gr.Accordion(
            f"Which sampler, how many steps: measured on the card's samples (w = {catalog.LDM_DEFAULT_GUIDANCE:g})",
            open=False,
        ):
            gr.Dataframe(table, interactive=False, elem_id="ldm-sampler-table")
    with gr.Accordion("Pixel space vs latent space: the cost of a step", open=False):
        costs = gr.Dataframe(label="Measured on this machine", interactive=False)
        measure = gr.Button("Measure one step in each space")
    outputs = [decoded, guess, latent_view, chart, status, final]
    run_button.click(
        text_to_image,
        [prompt, guidance, steps, seed, n, sampler],
        outputs,
        api_name="text_to_image",
        **long_run_events(status),
    )
    measure.click(friendly_errors(measure_costs), None, costs, **private("diffusion_costs"))
    tab.select(default_run, None, outputs, **private("ldm_open"))


def warm_up() -> None:
    """Load the autoencoder, the denoiser and the text encoder (diffusers' classes are imported here, on one
    thread: its lazy imports fail when two threads import at once)."""
    latent_diffusion.load()
    default_run()
