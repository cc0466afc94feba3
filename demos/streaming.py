"""Streaming a long run's steps to the page: frame pacing, the opening view, replays."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.lazy import lazy_import
from core.samplers import on_stride
from demos.errors import friendly_errors

torch = lazy_import("torch")  # imported on first use: the page is drawn before torch loads (core/lazy.py)

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


def long_run_events(status) -> dict:
    """A long run's event settings: LONG_RUN_QUEUE, and Gradio's progress (the place in the queue, the timer) shown
    on the run's status line only, not over every picture (Gradio's default). Measured in headless Chromium on 2
    cores, a DDIM-50 text-to-image run took the browser 1.0-1.3 s of CPU with progress on every output and 0.7-0.9 s
    on the status line alone, and finished 0.2-0.4 s sooner."""
    return {**LONG_RUN_QUEUE, "show_progress_on": [status]}


@dataclass
class Frame:
    """One rendered step of a sampler run: whether to show it now and whether a replay keeps it."""

    item: Any  # core.samplers.DiffusionStep
    pictures: tuple
    show: bool
    keep: bool
    elapsed: float  # seconds since the run started, the time spent showing frames included


def stream_steps(
    steps: Iterable,
    render: Callable[[Any], tuple],
    keep_every: int | None = None,
    moment: Callable[[Any], bool] | None = None,
) -> Iterator[Frame]:
    """Run a sampler to the end in inference mode (see _frames). torch's decorator, applied here rather than at
    import: on a generator it enters the mode at each resume (the worker may resume it on any job)."""
    return torch.inference_mode()(_frames)(steps, render, keep_every, moment)


def _frames(
    steps: Iterable, render: Callable[[Any], tuple], keep_every: int | None, moment: Callable[[Any], bool] | None
) -> Iterator[Frame]:
    """Run a sampler to the end, rendering a step when it is shown or kept for a replay (the first, every
    keep_every-th and the last; None keeps none).

    A step is shown when the sampler has computed for one frame interval since the last shown frame, and the last
    step always. The interval aims at FRAMES_PER_RUN frames, from the mean step time so far, within
    [FRAME_INTERVAL_S, FRAME_INTERVAL_MAX_S]. Its clock stops while this generator is suspended (the server
    encoding and sending a frame): counted in wall time, frames that cost more than the interval would make every
    step a frame and slow the run down.

    `moment`, when given, names the steps that are cheap to show (the latent diffusion tab's: those whose guess
    CLIP has decoded already): the run shows each that comes FRAME_INTERVAL_S or more after the last frame, and
    another step only past FRAME_INTERVAL_MAX_S, so that a frame rarely pays a decode of its own."""
    start = mark = time.perf_counter()  # mark: where the current stretch of compute began
    computed = 0.0  # seconds of compute in earlier stretches since the last shown frame
    total_compute = 0.0
    for item in steps:
        now = time.perf_counter()
        stretch = computed + now - mark
        mean_step = (total_compute + now - mark) / item.step
        interval = min(max(mean_step * item.total / FRAMES_PER_RUN, FRAME_INTERVAL_S), FRAME_INTERVAL_MAX_S)
        final = item.step == item.total
        if moment is None:
            show = final or stretch >= interval
        else:
            show = final or stretch >= FRAME_INTERVAL_MAX_S or (stretch >= FRAME_INTERVAL_S and moment(item))
        keep = keep_every is not None and on_stride(item.step, item.total, keep_every)
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
