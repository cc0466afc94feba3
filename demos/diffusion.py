"""Tab "Diffusion": the forward process in closed form, and the trained U-Net removing noise step by step."""

from __future__ import annotations

import functools
import os
import time

import gradio as gr
import numpy as np
import pandas as pd

from core import diffusion, samplers
from core.checkpoints import CheckpointError, read_card
from core.images import to_model_input
from core.lazy import lazy_import
from core.runtime import generator, in_precision, inference_bf16, model_device, on_cpu
from demos.checks import bounded_int, valid_seed
from demos.common import (
    FEW_ROWS_CLASS,
    GRID_CLASS,
    checkpoint_notice,
    colour_legend,
    image_sources,
    intro,
    output_image,
    private,
    sample_image,
    seed_input,
)
from demos.errors import friendly_errors, presentable
from demos.render import SCHEDULE_COLOURS, image_grid, schedule_chart
from demos.streaming import long_run_events, opening_run, replay_stride, sampler_stream, stream_steps

torch = lazy_import("torch")

T = diffusion.NUM_TRAIN_STEPS
STRIP_STEPS = (0, 50, 100, 200, 300, 500, 700, T)
MAX_IMAGES = 16
SAMPLERS = {"DDIM": "ddim", "DPM-Solver++": "dpm++", "DDPM": "ddpm"}  # shown name -> core.samplers.sample's
STEP_CHOICES = samplers.ddim_step_counts()  # the counts that divide T = 1000: DDIM's, and DPM-Solver++ takes any
BACK_STEPS = 50
SCHEDULE_CURVES = ("√ᾱ_t (signal)", "√(1 − ᾱ_t) (noise)", "SNR / (1 + SNR) = ᾱ_t")  # the schedule chart's curves
# The reverse process's jobs use every core: batches of 28-px convolutions gain from a second thread where the
# latent model's tiny steps do not (served DDIM 50 x 16: 3.4-3.5 s this way, 4.6-6.6 s with two threads for all).
SAMPLER_THREADS = os.cpu_count()
FORWARD_INTRO = rf"""
## Diffusion, forward: destroying an image on purpose
Each step adds a little Gaussian noise; composed, the steps have a closed form,
$x_t = \sqrt{{\bar\alpha_t}}\, x_0 + \sqrt{{1 - \bar\alpha_t}}\, \varepsilon$: any $x_t$ in one jump. Slide t.

The lecture's step adds a little Gaussian noise, $x_t = \sqrt{{1 - \alpha_t}}\, x_{{t-1}} + \sqrt{{\alpha_t}}\, \varepsilon_t$,
with $\alpha_t$ (the step's noise variance; $\beta_t$ in the DDPM paper) rising linearly from {diffusion.ALPHA_START} to
{diffusion.ALPHA_END} over $T = {T}$ steps. Composing the steps gives the closed form
$x_t = \sqrt{{\bar\alpha_t}}\, x_0 + \sqrt{{1 - \bar\alpha_t}}\, \varepsilon$ with $\bar\alpha_t = \prod_{{s \le t}} (1 - \alpha_s)$:
any $x_t$ in one jump. Slide t: left, the closed form; right, t single steps with fresh noise each time — different
draws of the same distribution $\mathcal{{N}}(\sqrt{{\bar\alpha_t}}\, x_0, (1 - \bar\alpha_t) I)$.
"""
REVERSE_INTRO = r"""
## Diffusion, backward: a U-Net removes the noise
Sampling starts from pure noise $x_T$; a trained U-Net $\varepsilon_\theta(x_t, t)$ predicts the noise in $x_t$,
and each step removes some of it.

A U-Net $\varepsilon_\theta(x_t, t)$ was trained (`python -m core.train ddpm`) with the lecture's loss
$\lVert \varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon, t) \rVert^2$: it predicts
the noise in $x_t$. Sampling starts from pure noise $x_T$ and removes the predicted noise step by step. Left: $x_t$
as it is denoised; right: the model's current guess of the clean image,
$\hat{x}_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \hat\varepsilon) / \sqrt{\bar\alpha_t}$, clamped to the images' range. **DDPM** takes all
1,000 steps and adds fresh noise in each; **DDIM** uses the same network but jumps deterministically through fewer
steps; **DPM-Solver++** also reuses the previous step's $\hat{x}_0$ (a second-order solver), so 10-20 steps suffice.
"""


def _grid(x: torch.Tensor) -> np.ndarray:
    """Model-range images (n, 1, 28, 28) as one uint8 grid (n = 1: large)."""
    n = len(x)
    scale = 8 if n == 1 else 4 if n <= 4 else 3
    return np.asarray(image_grid(diffusion.to_image_range(x), columns=min(n, 4), scale=scale))


# --- forward ------------------------------------------------------------------------------------------------


def _standardised_noise(x_t: torch.Tensor, x0: torch.Tensor, alpha_bar_t: float) -> tuple[float, float]:
    """Mean and std of the noise in x_t, (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t): both ≈ 0 and 1 if x_t ~ q(x_t | x_0)."""
    eps = diffusion.eps_from_x0(x_t, alpha_bar_t, x0)
    return eps.mean().item(), eps.std().item()


def _noised(image, t, seed) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Generator]:
    """The checked inputs -> (x_0, ε, x_t by the closed form, t, the generator after drawing ε)."""
    if image is None:
        raise ValueError("Pick an example, upload or draw an image first.")
    t = bounded_int(t, "t", 1, T)
    rng = generator(valid_seed(seed))
    x0 = diffusion.to_model_range(to_model_input(image))
    eps = torch.randn(x0.shape, generator=rng)
    a_bar = diffusion.alpha_bar(diffusion.noise_schedule())[t - 1].item()
    return x0, eps, diffusion.q_sample(x0, a_bar, eps), t, rng


@functools.partial(friendly_errors, uses_models=False)  # the closed form: no network
def forward(image, t, seed):
    """An image and a step t (1..T) -> x_t by the closed form, x_t by t single steps, a strip over t, the numbers."""
    x0, eps, closed, t, rng = _noised(image, t, seed)
    alphas = diffusion.noise_schedule()
    alpha_bars = diffusion.alpha_bar(alphas)
    a_bar = alpha_bars[t - 1].item()
    stepped = x0
    for s in range(t):  # the lecture's one-step formula, t times, fresh noise each step
        stepped = diffusion.forward_step(stepped, alphas[s].float(), torch.randn(x0.shape, generator=rng))
    strip = torch.cat([x0 if s == 0 else diffusion.q_sample(x0, alpha_bars[s - 1].item(), eps) for s in STRIP_STEPS])
    closed_stats, stepped_stats = _standardised_noise(closed, x0, a_bar), _standardised_noise(stepped, x0, a_bar)
    snr = diffusion.signal_to_noise(alpha_bars)[t - 1].item()
    text = (
        f"**t = {t}**: α_t = {alphas[t - 1].item():.5f}, ᾱ_t = {a_bar:.4f}, SNR = ᾱ_t / (1 − ᾱ_t) = {snr:.3g}\n\n"
        f"x_{t} = √{a_bar:.4f} · x_0 + √{1 - a_bar:.4f} · ε = **{np.sqrt(a_bar):.3f} · x_0 + "
        f"{np.sqrt(1 - a_bar):.3f} · ε**\n\n"
        f"Check: (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t) should be N(0, 1) noise. Closed form: mean {closed_stats[0]:+.3f}, "
        f"std {closed_stats[1]:.3f}; {t} single steps: mean {stepped_stats[0]:+.3f}, std {stepped_stats[1]:.3f} "
        f"(784 pixels each)."
    )
    curves = (alpha_bars.sqrt(), (1 - alpha_bars).sqrt(), alpha_bars)
    chart = schedule_chart(
        {name: curve.tolist() for name, curve in zip(SCHEDULE_CURVES, curves)},
        marker=t,
        width=420,
        height=360,
        legend=False,
        font_size=20,
    )
    strip_image = image_grid(diffusion.to_image_range(strip), columns=len(STRIP_STEPS), scale=4)
    return (_grid(closed), _grid(stepped), strip_image, text, chart)


@sampler_stream
def denoise_back(image, t, seed):
    """The slider's x_t handed to the trained U-Net: DDIM from t down to 0 (streams x_0 | x_t | current estimate)."""
    x0, _, x_t, t, _ = _noised(image, t, seed)
    model = diffusion.load()
    run = samplers.ddim_sample(
        in_precision(model, inference_bf16()),
        x_t.to(model_device(model)),
        diffusion.noise_schedule(),
        BACK_STEPS,
        start=t,
        x0_range=samplers.PIXEL_RANGE,
    )

    def render(item):
        return (image_grid(diffusion.to_image_range(torch.cat([x0, x_t, on_cpu(item.x_t)])), columns=3, scale=6),)

    for frame in stream_steps(run, render):
        item = frame.item
        done = "**Done.** " if item.step == item.total else ""
        yield (
            frame.pictures[0],
            (
                f"{done}DDIM step {item.step} of {item.total}: t = {item.t} → {item.t_next}. "
                "Left to right: x_0, x_t, the U-Net's current sample."
            ),
        )


# --- reverse ------------------------------------------------------------------------------------------------


def _check_run(sampler, steps, n) -> tuple[str, int, int]:
    if sampler not in SAMPLERS:
        raise ValueError(f"Choose a sampler among {', '.join(SAMPLERS)}, not {sampler!r}.")
    n = bounded_int(n, "The number of images", 1, MAX_IMAGES)
    steps = T if sampler == "DDPM" else bounded_int(steps, "The number of steps", 1, T)
    return sampler, samplers.check_step_count(SAMPLERS[sampler], steps), n


def _caption(item) -> str:
    return f"step {item.step} of {item.total}: t = {item.t} → {item.t_next}"


def _status(item, elapsed: float, sampler: str) -> str:
    rate = item.step / max(elapsed, 1e-6)
    return (
        f"**{sampler} {_caption(item)}** · {rate:.0f} steps/s · {1000 * elapsed / item.step:.1f} ms per step "
        "(frames included)"
    )


def _snapshot(item) -> tuple[str, torch.Tensor, torch.Tensor]:
    """A step as a replay keeps it: its caption and both images as uint8 (a rendered grid is 30 times larger)."""

    def compact(x: torch.Tensor) -> torch.Tensor:
        return on_cpu((diffusion.to_image_range(x) * 255).round().to(torch.uint8))  # kept in the session

    return _caption(item), compact(item.x_t), compact(item.x0_hat)


def _grid_of_snapshot(images: torch.Tensor) -> np.ndarray:
    return _grid(images.float() / 127.5 - 1.0)


@functools.partial(sampler_stream, threads=SAMPLER_THREADS)
def sample(seed, sampler, steps, n):
    """x_T ~ N(0, I) -> the trained U-Net's reverse process; streams (x_t, x̂_0, status, final, replay, history)."""
    sampler, steps, n = _check_run(sampler, steps, n)
    model = diffusion.load()
    rng = generator(valid_seed(seed))
    run = samplers.sample(
        in_precision(model, inference_bf16()),
        (n, 1, 28, 28),
        SAMPLERS[sampler],
        steps,
        rng,
        on=model_device(model),
        x0_range=samplers.PIXEL_RANGE,
    )
    history: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    # A new run clears the last one's final grid and replay at once (also when this run is stopped early).
    yield gr.skip(), gr.skip(), f"**{sampler}**: starting from x_T ~ N(0, I)…", None, gr.update(visible=False), []

    for frame in stream_steps(run, _snapshot, keep_every=replay_stride(steps)):
        if frame.keep:
            history.append(frame.pictures)
        if not frame.show:
            continue
        _, x_t, x0_hat = frame.pictures
        grid_t, grid_0 = _grid_of_snapshot(x_t), _grid_of_snapshot(x0_hat)
        final = frame.item.step == frame.item.total
        yield (
            grid_t,
            grid_0,
            _status(frame.item, frame.elapsed, sampler),
            grid_t if final else gr.skip(),
            gr.update(maximum=len(history), value=len(history), visible=True) if final else gr.skip(),
            history if final else gr.skip(),
        )


DEFAULT_RUN = (0, "DPM-Solver++", 20, 8)  # seed, sampler, steps, images: the reverse tab's controls as it opens


default_run = opening_run(  # what the reverse process shows as it opens, with its steps to replay
    sample,
    DEFAULT_RUN,
    2,
    f"**The tab's default run** ({DEFAULT_RUN[1]} {DEFAULT_RUN[2]} steps, {DEFAULT_RUN[3]} images, seed "
    f"{DEFAULT_RUN[0]}), computed when the server started: scrub its steps below, or press **Denoise from x_T** for "
    "a run of your own.",
)


def _replay_position(history, position) -> int:
    if not history:
        raise ValueError("Run the sampler first; the replay shows its steps.")
    return bounded_int(position, "The replay position", 1, len(history))


@functools.partial(friendly_errors, uses_models=False)  # the session's kept pictures
def replay(history, position):
    """The replay slider: the kept step at `position` (1-based) -> (x_t, x̂_0, caption)."""
    caption, x_t, x0_hat = history[_replay_position(history, position) - 1]
    return _grid_of_snapshot(x_t), _grid_of_snapshot(x0_hat), f"Replay: {caption}"


PLAY_FRAME_S = 0.12  # the replay played by itself: about 8 steps a second, a 50-step run in 6 s
REPLAY_QUEUE = {"concurrency_id": "replay", "concurrency_limit": 8}  # plays mostly wait: their own group


def play(history, position):
    """Play the replay: the kept steps from `position` (from the first when already at the last) to the end,
    one every PLAY_FRAME_S, moving the slider along. Each picture is a light call on the compute worker; the
    waits between them are here, off the worker. Pause cancels it."""
    try:
        start = _replay_position(history, position)
    except Exception as error:
        raise presentable(error, "play") from None
    start = 1 if start == len(history) else start
    for step in range(start, len(history) + 1):
        yield *replay(history, step), gr.update(value=step)
        if step < len(history):
            time.sleep(PLAY_FRAME_S)


def _card_summary() -> str:
    try:
        metrics = read_card("ddpm")["metrics"]
    except CheckpointError:
        return ""
    if "fd_samples_vs_test" not in metrics:
        return ""
    shares = metrics["class_shares_of_samples"]
    return (
        f"Measured when trained: {metrics['samples_for_metrics']:,} samples ({metrics['sampler_for_metrics']}) "
        f"have a Fréchet distance of {metrics['fd_samples_vs_test']:.1f} to the test set (evaluation-classifier "
        f"features); the rarest class, {min(shares, key=shares.get)}, is {100 * min(shares.values()):.1f}% of "
        f"them. Training: {metrics['training_seconds'] / 60:.0f} minutes on "
        f"2 CPU cores."
    )


SHOWN_SAMPLER = {core: shown for shown, core in SAMPLERS.items()}


def sampler_table() -> pd.DataFrame:
    """From the card: FD, the rarest class and the speckled share by sampler and step count (as the DDIM paper's
    Table 1 compares samplers), all on the same number of samples from the same seeds."""
    columns = ["Sampler", "Steps", "FD (lower is better)", "Rarest class", "Speckled", "ms per image"]
    try:
        rows = read_card("ddpm")["metrics"].get("sampler_table", [])
    except CheckpointError:
        rows = []
    return pd.DataFrame(
        [
            [
                SHOWN_SAMPLER.get(r["sampler"], r["sampler"]),
                r["steps"],
                r["fd"],
                f"{100 * r['min_class_share']:.1f}%",
                f"{100 * r['speckled_share']:.1f}%",
                r["ms_per_sample"],
            ]
            for r in rows
        ],
        columns=columns,
    )


def training_curves() -> tuple[pd.DataFrame, pd.DataFrame]:
    """From the card: the training loss per 100 steps, and the held-out loss in ten ranges of t."""
    try:
        card = read_card("ddpm")
    except CheckpointError:
        return pd.DataFrame(columns=["step", "loss"]), pd.DataFrame(columns=["t", "loss"])
    losses = card["curves"].get("loss_per_100_steps", [])
    by_t = card["metrics"].get("test_loss_by_t_decile", [])
    width = T // max(1, len(by_t))
    return (
        pd.DataFrame({"step": [100 * (i + 1) for i in range(len(losses))], "loss": losses}),
        pd.DataFrame({"t": [width * i + width // 2 for i in range(len(by_t))], "loss": by_t}),
    )


def build(tab: gr.Tab) -> None:
    checkpoint_notice(["ddpm"])
    with gr.Tabs():
        with gr.Tab("Forward: noising", id="forward"):
            _build_forward(tab)
        with gr.Tab("Reverse: denoising", id="reverse") as reverse_tab:
            _build_reverse(reverse_tab)


def _build_forward(tab: gr.Tab) -> None:
    intro(FORWARD_INTRO)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            source = gr.Image(
                label="x_0",
                type="numpy",
                image_mode=None,
                sources=["upload", "clipboard"],
                height=240,
                value=sample_image(0),
            )
            image_sources(source, "diffusion")
        with gr.Column(scale=2):
            with gr.Row():
                t = gr.Slider(1, T, value=250, step=1, label="t", elem_id="diffusion-t")
                noise_seed = seed_input("Seed of ε")
            with gr.Row():
                closed = output_image("x_t, closed form")
                stepped = output_image("x_t, t single steps")
                with gr.Column(min_width=200):
                    chart = output_image("Schedule over t", height=270)
                    gr.HTML(colour_legend(zip(SCHEDULE_COLOURS, SCHEDULE_CURVES)))
            numbers = gr.Markdown()
            strip = output_image(f"One ε, t = {', '.join(map(str, STRIP_STEPS))}", height=None)
            with gr.Row():
                back_button = gr.Button("Hand this x_t to the trained U-Net (DDIM back to t = 0)")
                back_text = gr.Markdown()
            back = output_image("x_0 | x_t | denoised", elem_id="diffusion-back", height=None)
    forward_outputs = [closed, stepped, strip, numbers, chart]
    inputs = [source, t, noise_seed]
    t.release(forward, inputs, forward_outputs, api_name="diffusion_forward", show_progress="hidden")
    noise_seed.submit(
        forward,
        inputs,
        forward_outputs,
        **private("diffusion_forward_seed"),
        show_progress="hidden",
    )
    source.change(
        forward,
        inputs,
        forward_outputs,
        **private("diffusion_forward_image"),
        show_progress="hidden",
    )
    back_button.click(
        denoise_back, inputs, [back, back_text], api_name="diffusion_denoise_back", **long_run_events(back_text)
    )
    tab.select(
        forward,
        inputs,
        forward_outputs,
        **private("diffusion_forward_open"),
        show_progress="hidden",
    )


def _build_reverse(tab: gr.Tab) -> None:
    intro(REVERSE_INTRO + "\n\n" + _card_summary())
    with gr.Row(equal_height=True):
        seed = seed_input("Seed of x_T")
        sampler = gr.Radio(list(SAMPLERS), value=DEFAULT_RUN[1], label="Sampler", elem_id="diffusion-sampler")
        steps = gr.Dropdown(
            list(STEP_CHOICES),
            value=DEFAULT_RUN[2],
            label="Steps",
            info="DDPM takes all 1,000",
            elem_id="diffusion-steps",
        )
        n = gr.Slider(1, MAX_IMAGES, value=8, step=1, label="Images")
        with gr.Column(min_width=160):
            run_button = gr.Button("Denoise from x_T", variant="primary")
            stop_button = gr.Button("Stop", size="sm")
    status = gr.Markdown("Press **Denoise from x_T**.", elem_id="diffusion-status")
    with gr.Row():
        x_t = output_image("x_t", elem_id="diffusion-x-t", height=300, elem_classes=[GRID_CLASS, FEW_ROWS_CLASS])
        x0_hat = output_image(
            "x̂_0: the model's guess of the clean image", height=300, elem_classes=[GRID_CLASS, FEW_ROWS_CLASS]
        )
    # Steps of the last run, to scrub through once it is done (the last step is the final samples).
    position = gr.Slider(1, 2, value=1, step=1, label="Replay the run's steps", visible=False)
    with gr.Row():
        play_button = gr.Button("▶ Play the steps", size="sm")
        pause_button = gr.Button("❚❚ Pause", size="sm")
    final = output_image("Final samples", elem_id="diffusion-final", visible=False)  # the API's last output
    table = sampler_table()
    if len(table):
        with gr.Accordion("Which sampler, how many steps: FD measured on the card's samples", open=False):
            gr.Dataframe(table, interactive=False, elem_id="diffusion-sampler-table")
    with gr.Accordion("How the U-Net was trained: the loss ‖ε − ε_θ‖² over training, and by t", open=False):
        curve, by_t = training_curves()
        with gr.Row():
            gr.LinePlot(curve, x="step", y="loss", label="Training loss (mean of each 100 steps)")
            gr.LinePlot(
                by_t,
                x="t",
                y="loss",
                label="Held-out loss by t: small t, little noise to find; "
                "large t, x_t is nearly all noise, so ε is easy to guess",
            )
    history = gr.State([], time_to_live=1800)  # a replay is let go half an hour after the run
    outputs = [x_t, x0_hat, status, final, position, history]
    run = run_button.click(
        sample, [seed, sampler, steps, n], outputs, api_name="diffusion_sample", **long_run_events(status)
    )
    stop_button.click(None, None, None, cancels=[run], **private("diffusion_stop"))
    position.input(
        replay,
        [history, position],
        [x_t, x0_hat, status],
        **private("diffusion_replay"),
        show_progress="hidden",
    )
    playing = play_button.click(
        play,
        [history, position],
        [x_t, x0_hat, status, position],
        **private("diffusion_play"),
        show_progress="hidden",
        **REPLAY_QUEUE,
    )
    pause_button.click(None, None, None, cancels=[playing], **private("diffusion_pause"))
    tab.select(default_run, None, outputs, **private("diffusion_open_reverse"))


def warm_up() -> None:
    diffusion.load()
    inference_bf16()
    default_run()
    forward(sample_image(0), 250, 0)
