"""The app: one tab per lecture topic, in lecture order. `python app.py` serves it on 127.0.0.1:7860
(GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override)."""
from __future__ import annotations

import logging
import os

import gradio as gr

from demos import autoencoder, divergence, vae

TABS = (  # (title, module): lecture order
    ("Autoencoders", autoencoder),
    ("Entropy & KL", divergence),  # the lecture's background slides, before the VAE needs KL
    ("VAE", vae),
)
CSS = """
.checkpoint-notice { border-left: 4px solid #d97706; padding-left: 0.75em; }
#ae-reconstructions img { image-rendering: pixelated; }
"""
THEME = gr.themes.Soft()


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Generative models, live", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as app:  # every hour, drop cached outputs older than an hour
        gr.Markdown("# Generative models, live\nEach tab runs a model trained by this repository's own recipes.")
        with gr.Tabs():
            for title, module in TABS:
                with gr.Tab(title, id=module.__name__.split(".")[-1]) as tab:
                    module.build(tab)  # the tab, for work that should wait until it is opened
    # Small CPU-bound handlers: two at a time per event, a bounded queue so a crowd cannot pile up work.
    app.queue(default_concurrency_limit=2, max_size=64)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    build_app().launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False, max_file_size="10mb", theme=THEME, css=CSS, show_error=True,
    )


if __name__ == "__main__":
    main()
