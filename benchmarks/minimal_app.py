"""The floor for the classroom load: a minimal Gradio app on the same machine, one handler that returns a
3x-upscaled PNG grid of 16 random 28x28 images (what a light tab returns), under the same queue settings.

`python -m benchmarks.minimal_app` serves it on GRADIO_SERVER_PORT (7860)."""

from __future__ import annotations

import os

import gradio as gr
import numpy as np


def grid(seed, n):
    rng = np.random.default_rng(int(seed))
    tiles = rng.integers(0, 256, (int(n), 28, 28), dtype=np.uint8)
    rows = [np.concatenate(list(tiles[i : i + 4]), axis=1) for i in range(0, len(tiles), 4)]
    return np.concatenate(rows, axis=0).repeat(3, axis=0).repeat(3, axis=1)


def build() -> gr.Blocks:
    with gr.Blocks(analytics_enabled=False) as app:
        seed, n = gr.Number(0), gr.Number(16)
        image = gr.Image(format="png")
        gr.Button().click(grid, [seed, n], image, api_name="grid")
    app.queue(default_concurrency_limit=2, max_size=256)
    return app


if __name__ == "__main__":
    build().launch(server_name="127.0.0.1", server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), share=False)
