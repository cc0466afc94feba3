"""The app: one tab per lecture topic, in lecture order. `python app.py` serves it on 127.0.0.1:7860
(GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)."""

from __future__ import annotations

import logging
import os

import gradio as gr

from core.runtime import COMPUTE
from demos import (
    autoencoder,
    clip,
    diffusion,
    divergence,
    gan,
    intake,
    latent_diffusion,
    overview,
    page,
    pix2pix,
    presets,
    serving,
    stylegan,
    toy_gan,
    unpaired,
    vae,
)
from demos.streaming import FRAME_WORKER, LONG_RUN_QUEUE, MAX_WAITING_LONG_RUNS

TABS = (  # (title, tab id, builder): lecture order; short titles, so that all thirteen fit one row on a 1280 px screen
    ("Autoencoders", "autoencoder", autoencoder.build),
    ("Entropy & KL", "divergence", divergence.build),  # the lecture's background slides, before the VAE needs KL
    ("VAE", "vae", vae.build),
    ("GAN", "gan", gan.build),
    ("GAN live", "toy_gan", toy_gan.build),  # the training loop and mode collapse
    ("StyleGAN", "stylegan", stylegan.build),
    ("cGAN", "cgan", gan.build_conditional),
    ("pix2pix", "pix2pix", pix2pix.build),  # an image as the condition
    ("CycleGAN", "unpaired", unpaired.build),  # DualGAN / CycleGAN: no pairs, a cycle instead
    ("Diffusion", "diffusion", diffusion.build),
    ("CLIP", "clip", clip.build),  # the lecture places CLIP between DDPM and Stable Diffusion
    (
        "Latent diffusion",
        "latent_diffusion",
        latent_diffusion.build,
    ),  # Stable Diffusion: CLIP's text encoder conditions it
    ("Overview", "overview", overview.build),  # the closing slide: the families side by side
)
# What the background warm-up does once the page is up, in the order a lecture reaches the tabs.
WARM_UP = (
    ("autoencoder", autoencoder.warm_up),
    ("vae", vae.warm_up),
    ("gan", gan.warm_up),
    ("stylegan", stylegan.warm_up),
    ("pix2pix", pix2pix.warm_up),
    ("unpaired", unpaired.warm_up),
    ("diffusion", diffusion.warm_up),
    ("clip", clip.warm_up),
    ("latent_diffusion", latent_diffusion.warm_up),
    ("overview", overview.warm_up),
)
THEME = gr.themes.Soft()
QUEUE_SIZE = 256  # requests waiting at once; past it a caller is told the server is busy


def build_app() -> gr.Blocks:
    COMPUTE.start()  # before the server's threads, for its own malloc arena (ComputeWorker.start); loads no torch
    FRAME_WORKER.start()  # the same for the thread that renders streamed frames beside the sampler
    serving.configure_gradio({LONG_RUN_QUEUE["concurrency_id"]: MAX_WAITING_LONG_RUNS})
    with serving.server_app_built_once():  # launch() builds it
        with gr.Blocks(
            title="Generative models, live", analytics_enabled=False, delete_cache=(3600, 3600)
        ) as app:  # every hour, drop cached outputs older than an hour
            page.header("Generative models, live", "Each tab runs a model trained by this repository's own recipes.")
            with gr.Tabs():
                for title, tab_id, build in TABS:
                    with gr.Tab(title, id=tab_id, elem_id=f"tab-{tab_id}") as tab:
                        build(tab)  # the tab, for work that should wait until it is opened
            presets.attach(app)  # ?preset=<slug>: a lecture slide's example
        # All model work runs on core.runtime.COMPUTE, one job at a time, light calls first; these limits only bound
        # how many requests Gradio hands over at once (long runs share demos.streaming.LONG_RUN_QUEUE).
        app.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    return app


def launch_options() -> dict:
    """What launch() needs besides the address: the theme, the page's CSS and script (demos/page.py)."""
    return dict(
        theme=THEME,
        css=page.CSS,
        js=page.page_js([(tab_id, title) for title, tab_id, _ in TABS], presets.script_table()),
        max_file_size="10mb",
        share=False,
        show_error=True,
        app_kwargs=intake.app_options() | serving.app_options(),
    )


def warm_up() -> None:
    """Load every model and fill what the tabs show on opening, in the background, at the lowest priority."""
    serving.warm_up_in_background(
        (name, lambda task=task: COMPUTE.run(task, COMPUTE.BACKGROUND)) for name, task in WARM_UP
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    app = build_app()
    serving.launch(
        app,
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        prevent_thread_lock=True,
        **launch_options(),
    )
    warm_up()  # after the page is up
    app.block_thread()


if __name__ == "__main__":
    main()
