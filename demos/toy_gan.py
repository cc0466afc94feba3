"""Tab "GAN live": the lecture's training loop on 2-D points, streamed frame by frame."""

from __future__ import annotations

import functools
import time

import gradio as gr
import pandas as pd

from core import toy_gan
from core.images import EmptyImageError, to_grayscale_ink
from demos.checks import bounded_float, bounded_int, valid_seed
from demos.common import drawing_image, intro, output_image, private, seed_input, sketchpad
from demos.errors import friendly_errors
from demos.render import toy_gan_frame
from demos.streaming import FRAME_INTERVAL_S, long_run_events

FRAME_SIZE = 420
MAX_FRAMES = 100  # frames per run from the step count (more when training is slow, see MAX_FRAME_INTERVAL_S;
# fewer when it is fast: frames stay FRAME_INTERVAL_S apart)
MAX_FRAME_INTERVAL_S = 0.12  # never let the picture freeze longer than this: at least ~5 frames a second
MAX_SAMPLES_PER_RUN = 12_000_000  # points pushed through G and D per run: about a minute on 2 cores at worst
INTRO = r"""
## Training a GAN, live
The lecture's algorithm on 2-D points, trained from scratch on the server while you watch: for each iteration,
**k steps of D** (ascend $\log D(x) + \log(1 - D(G(z)))$, G fixed), then **one step of G** (D fixed).

Green dots are real samples, purple circles are G(z) for a fixed batch of z; the background is D's verdict:
green where it says *real*, purple where it says *fake*, white where it cannot tell ($D = 0.5$). (With WGAN-GP,
D is a critic with unbounded scores: the map is centred on its median score, so white means "median", not
"undecided".) Quality as in the unrolled-GAN and VEEGAN papers' 2-D experiments: a generated point is *high
quality* within $3\sigma$ of a mode; a mode is *covered* when such points reach it.
"""
PRESETS = {
    "Ring of 8, non-saturating": dict(
        distribution="ring", loss="non_saturating", k=1, batch_size=256, lr_d=1e-3, lr_g=1e-3, latent_dim=2
    ),
    "Mode collapse (unrolled-GAN)": dict(
        distribution="ring", loss="non_saturating", k=1, batch_size=512, lr_d=1e-4, lr_g=1e-4, latent_dim=256
    ),
    "The same with WGAN-GP": dict(
        distribution="ring", loss="wgan_gp", k=5, batch_size=512, lr_d=1e-4, lr_g=1e-4, latent_dim=256
    ),
    "Lecture's minimax loss": dict(
        distribution="ring", loss="minimax", k=1, batch_size=256, lr_d=1e-3, lr_g=1e-3, latent_dim=2
    ),
    "Grid of 25": dict(
        distribution="grid", loss="non_saturating", k=1, batch_size=256, lr_d=1e-3, lr_g=1e-3, latent_dim=2
    ),
}
PRESET_FIELDS = ("distribution", "loss", "k", "batch_size", "lr_d", "lr_g", "latent_dim")


def _config(distribution, loss, steps, k, batch_size, lr_d, lr_g, latent_dim, seed) -> toy_gan.ToyGANConfig:
    if distribution not in toy_gan.DISTRIBUTIONS:
        raise ValueError(f"Choose a distribution among {', '.join(toy_gan.DISTRIBUTIONS)}, not {distribution!r}.")
    if loss not in toy_gan.LOSSES:
        raise ValueError(f"Choose a loss among {', '.join(toy_gan.LOSSES)}, not {loss!r}.")
    steps = bounded_int(steps, "The number of generator steps", 50, 5000)
    k = bounded_int(k, "k (D steps per G step)", 1, 10)
    batch_size = bounded_int(batch_size, "The batch size", 16, 1024)
    if steps * (k + 1) * batch_size > MAX_SAMPLES_PER_RUN:
        raise ValueError(
            f"That run is too long for a shared CPU: steps × (k + 1) × batch = "
            f"{steps * (k + 1) * batch_size:,} samples, at most {MAX_SAMPLES_PER_RUN:,}. "
            "Lower the steps, k or the batch size."
        )
    return toy_gan.ToyGANConfig(
        distribution=distribution,
        loss=loss,
        steps=steps,
        k=k,
        batch_size=batch_size,
        lr_d=bounded_float(lr_d, "D's learning rate", 1e-6, 0.1),
        lr_g=bounded_float(lr_g, "G's learning rate", 1e-6, 0.1),
        latent_dim=bounded_int(latent_dim, "The size of z", 1, 256),
        frame_every=max(10, -(-steps // MAX_FRAMES)),
        seed=valid_seed(seed),
    )


def _drawn_points(drawing):
    try:
        return toy_gan.points_from_ink(to_grayscale_ink(drawing_image(drawing)))
    except EmptyImageError:
        raise ValueError("The 'drawn' distribution needs a drawing: draw a shape on the canvas, then train.") from None


def _summary(frame: toy_gan.ToyFrame, config: toy_gan.ToyGANConfig, steps_per_second: float) -> str:
    if frame.step == 0:  # before any update there is no loss to report
        lines = [f"**Step 0 of {config.steps}**: no update yet."]
    else:
        lines = [
            f"**Step {frame.step} of {config.steps}** · {steps_per_second:.0f} generator steps/s · "
            f"D loss {frame.d_loss:.3f} · G loss {frame.g_loss:.3f}"
        ]
    if frame.metrics:
        m = frame.metrics
        lines.append(
            f"**Modes covered: {m['modes_covered']} of {m['modes_total']}** · "
            f"high-quality samples: {100 * m['high_quality_share']:.1f}%"
        )
    if config.loss == "wgan_gp":
        lines.append(
            "WGAN-GP: D is a critic with unbounded scores; the map is centred on their median (white) and "
            "scaled, so green/purple mean above/below the median, not real/fake."
        )
    return "  \n".join(lines)


@functools.partial(friendly_errors, uses_models=False)  # two small MLPs: the CPU is the right place
def train_live(distribution, loss, steps, k, batch_size, lr_d, lr_g, latent_dim, seed, drawing=None):
    """Train a toy GAN from scratch and stream (frame, summary, losses) every few generator steps."""
    config = _config(distribution, loss, steps, k, batch_size, lr_d, lr_g, latent_dim, seed)
    drawn = _drawn_points(drawing) if distribution == "drawn" else None
    history: list[tuple[int, float, str]] = []
    start = time.perf_counter()
    for frame in toy_gan.train(
        config, drawn, max_frame_interval_s=MAX_FRAME_INTERVAL_S, min_frame_interval_s=FRAME_INTERVAL_S
    ):
        if frame.step:
            history += [(frame.step, frame.d_loss, "D"), (frame.step, frame.g_loss, "G")]
        image = toy_gan_frame(
            frame.real, frame.fake, frame.decision, toy_gan.EXTENT, FRAME_SIZE, probability=config.loss != "wgan_gp"
        )
        rate = frame.step / max(time.perf_counter() - start, 1e-6)
        yield image, _summary(frame, config, rate), pd.DataFrame(history, columns=["step", "loss", "player"])


@functools.partial(friendly_errors, uses_models=False)
def opening_frame(distribution, loss, steps, k, batch_size, lr_d, lr_g, latent_dim, seed):
    """What the tab shows as it opens: G and D of the current settings before any training (step 0)."""
    run = train_live.__wrapped__(distribution, loss, steps, k, batch_size, lr_d, lr_g, latent_dim, seed)
    try:
        image, summary, losses = next(run)
    finally:
        run.close()
    return image, summary + "  \nUntrained G and D: press **Train** to watch them play.", losses


def apply_preset(name):
    if name not in PRESETS:
        raise gr.Error(f"Unknown preset {name!r}.")
    return tuple(PRESETS[name][field] for field in PRESET_FIELDS)


def build(tab: gr.Tab) -> None:
    intro(INTRO)
    first = next(iter(PRESETS.values()))
    with gr.Row():
        with gr.Column(scale=2, min_width=420):
            frame = output_image(
                "Real (green) vs G(z) (purple) over D's decision", elem_id="toy-gan-frame", height=FRAME_SIZE + 40
            )
            summary = gr.Markdown("Press **Train** to start from untrained G and D.")
        with gr.Column(scale=1, min_width=300):
            preset = gr.Dropdown(list(PRESETS), value=next(iter(PRESETS)), label="Preset", elem_id="toy-preset")
            with gr.Row():
                train_button = gr.Button("Train", variant="primary")
                stop_button = gr.Button("Stop")
            distribution = gr.Radio(
                list(toy_gan.DISTRIBUTIONS),
                value=first["distribution"],
                label="Real distribution",
                elem_id="toy-distribution",
            )
            loss = gr.Radio(
                list(toy_gan.LOSSES),
                value=first["loss"],
                label="Loss",
                elem_id="toy-loss",
                info="minimax: the lecture's log(1 − D(G(z))); non_saturating: −log D(G(z)); "
                "wgan_gp: a critic with a gradient penalty (a remedy for mode collapse)",
            )
            with gr.Row():
                k = gr.Slider(1, 10, value=first["k"], step=1, label="k: D steps per G step", elem_id="toy-k")
                steps = gr.Slider(50, 5000, value=2000, step=50, label="Generator steps")
            with gr.Row():
                lr_d = gr.Number(
                    value=first["lr_d"], label="D learning rate", minimum=1e-6, maximum=0.1, elem_id="toy-lr-d"
                )
                lr_g = gr.Number(
                    value=first["lr_g"], label="G learning rate", minimum=1e-6, maximum=0.1, elem_id="toy-lr-g"
                )
            with gr.Row():
                batch_size = gr.Slider(
                    16, 1024, value=first["batch_size"], step=16, label="Batch size m", elem_id="toy-batch-size"
                )
                latent_dim = gr.Slider(
                    1, 256, value=first["latent_dim"], step=1, label="Size of z", elem_id="toy-latent-dim"
                )
            seed = seed_input()
    with gr.Row():
        losses = gr.LinePlot(x="step", y="loss", color="player", label="Losses per generator step")
        with gr.Accordion("Draw your own distribution (choose 'drawn' above)", open=False):
            drawing = sketchpad("Draw the real distribution: ink becomes data")

    controls = [distribution, loss, steps, k, batch_size, lr_d, lr_g, latent_dim, seed]
    preset.input(
        apply_preset, preset, [distribution, loss, k, batch_size, lr_d, lr_g, latent_dim], **private("toy_gan_preset")
    )
    # Each run holds the CPU for seconds: at most two at once, the rest wait in the queue.
    run = train_button.click(
        train_live, controls + [drawing], [frame, summary, losses], api_name="toy_gan_train", **long_run_events(summary)
    )
    stop_button.click(None, None, None, cancels=[run], **private("toy_gan_stop"))
    tab.select(opening_frame, controls, [frame, summary, losses], **private("toy_gan_open"))
