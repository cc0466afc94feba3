"""Streaming a long run's steps to the page: frame pacing, the opening view, replays."""

from __future__ import annotations

import collections
import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from core.lazy import lazy_import
from core.runtime import ComputeWorker, spaced
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
FRAME_INTERVAL_S = 0.1  # the shortest time between two frames as the page gets them (sampler_stream)
FRAME_INTERVAL_MAX_S = 0.5  # the longest stretch of sampler compute between two (a 1,000-step DDPM run still moves
# twice a second)
# What a run shows: each frame costs the server a render and three encodes, and the page a message and three
# fetches (DDIM 50 text-to-image clicked in Chromium, 12 -> 9 with the measure-only steps: 11 -> 9 frames, 1.80 ->
# 1.66 s median, the page's CPU 0.77 -> 0.67 s a run, the server's 2.11 -> 1.93 s). A run shorter than
# FRAMES_PER_RUN frame intervals shows them too, the page getting them FRAME_INTERVAL_S apart while the sampler
# runs on at its own speed (sampler_stream): its last frame, the final picture, comes 0.8 s after its first.
FRAMES_PER_RUN = 9
FRAMES_AHEAD = FRAMES_PER_RUN + 2  # updates a run may compute ahead of the page: a whole short run and its status
MAX_RENDERS_AHEAD = 4  # renders queued beside a sampler before it waits for one (stream_steps' `beside`)
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
    pictures: Any  # what render (or render_kept, for a step kept but not shown) returned
    show: bool
    keep: bool
    elapsed: float  # seconds since the run started, the time spent showing frames included


# Frames rendered beside the sampler: decoding a latent for a picture (and CLIP's look at it) on a thread of its own
# while the compute worker goes on with the next steps. One job at a time, one intra-op thread; started with the
# compute worker (ComputeWorker.start: its own malloc arena). At a lower CPU priority (nice 10): on 2 cores the
# sampler, the server and a browser on the same machine go first, and a frame waits a little. DDIM 50 text-to-image
# clicked in Chromium, 8 rounds of 5 clicks interleaved: 1.72 against 1.89 s median, faster in 7 rounds of 8 (p95
# 2.31 against 2.22 s: its one slow round, 1.97-2.42 s, against the other's 2.09-2.39 s).
FRAME_WORKER = ComputeWorker("frames", nice=10)


def sampler_stream(handler: Callable, threads: int | None = None) -> Callable:
    """friendly_errors for a handler that streams a sampler run (stream_steps' frames), and its updates handed to
    the page at least FRAME_INTERVAL_S apart while the sampler runs on at its own speed, up to FRAMES_AHEAD updates
    ahead of the page. A run that computes its frames faster than that (DPM-Solver++ 20: 0.5-0.7 s served) has
    them held back for the page: its final picture comes when its turn does, 0.8 s after the first frame."""
    served = friendly_errors(handler, threads, ahead=FRAMES_AHEAD)

    @functools.wraps(served)
    def paced(*args, **kwargs):
        yield from spaced(served(*args, **kwargs), FRAME_INTERVAL_S)

    paced.__wrapped__ = handler  # the handler itself (opening_run calls it)
    paced.zero_gpu = served.zero_gpu
    return paced


def stream_steps(
    steps: Iterable,
    render: Callable[[Any], Any],
    keep_every: int | None = None,
    beside: bool = False,
    render_kept: Callable[[Any], Any] | None = None,
) -> Iterator[Frame]:
    """Run a sampler to the end in inference mode (see _frames). torch's decorator, applied here rather than at
    import: on a generator it enters the mode at each resume (the worker may resume it on any job)."""
    return torch.inference_mode()(_frames)(steps, render, keep_every, beside, render_kept or render)


def _frames(
    steps: Iterable, render: Callable, keep_every: int | None, beside: bool, render_kept: Callable
) -> Iterator[Frame]:
    """Run a sampler to the end, rendering a step when it is shown or kept (the first, every keep_every-th and the
    last; None keeps none: a replay keeps them, the latent diffusion tab's chart measures them). A step kept but not
    shown goes to render_kept instead (the chart's measurement alone, without the pictures nobody sees).

    Which steps are shown: see _frame_due (the first, the last and FRAMES_PER_RUN - 2 evenly between them; in a
    long run one every FRAME_INTERVAL_MAX_S of compute). The compute clock stops while this generator is suspended
    (the server encoding and sending a frame) or waits for renders: counted in wall time, a slow consumer would
    make a long run's frames come at every step and slow it down. How fast the page gets the frames is
    sampler_stream's business.

    `beside`: render on FRAME_WORKER while this generator goes on with the next steps, so that rendering does not
    hold up the sampler (on 2 cores, one of them mostly idle while a sampler runs); a frame is handed on once
    rendered, in step order, all of them by the run's end. At most MAX_RENDERS_AHEAD renders wait at once: past
    that the sampler waits for the oldest (two runs sharing the frame thread, a slow machine), its clock stopped.
    Measured in process, DDIM 50 text to image with CLIP's eleven measurements: the sampler alone 1.09 s; with the
    measurements and frames rendered in line 1.46 s, beside it 1.11-1.22 s. The waits for a render happen on the
    caller's thread, the compute worker on a served app: a render must not wait for the compute worker itself.
    A run stopped or failed drops the renders still queued."""
    start = time.perf_counter()
    paused = 0.0  # seconds this generator spent waiting for renders and handing frames on: not the sampler's
    shown = 0  # frames shown so far
    pending: collections.deque = collections.deque()  # (item, its pictures or their future, show, keep)

    def compute_clock() -> float:
        return time.perf_counter() - start - paused

    try:
        for item in steps:
            show = _frame_due(item.step, item.total, compute_clock(), shown)
            keep = keep_every is not None and on_stride(item.step, item.total, keep_every)
            if show or keep:
                renderer = render if show else render_kept
                if beside:
                    job = functools.partial(torch.inference_mode()(renderer), item)
                    pictures = FRAME_WORKER.submit(job, ComputeWorker.LONG_RUN, threads=1)
                else:
                    pictures = renderer(item)
                pending.append((item, pictures, show, keep))
                shown += show
            while pending and (not beside or pending[0][1].done() or len(pending) > MAX_RENDERS_AHEAD):
                waited = time.perf_counter()
                yield _frame(pending.popleft(), start)
                paused += time.perf_counter() - waited
        while pending:  # the run is over: the frames still rendering, in order
            yield _frame(pending.popleft(), start)
    finally:  # stopped, or a step or a render failed: what is still queued is for nobody
        for _, pictures, _, _ in pending:
            if isinstance(pictures, Future):
                pictures.cancel()


def _frame_due(step: int, total: int, now: float, shown: int) -> bool:
    """Whether step (of total) is shown, `now` seconds of compute into the run, after `shown` frames (the pacing
    rule of _frames): the first and the last step, and FRAMES_PER_RUN - 2 evenly between them, or, where that would
    leave more than FRAME_INTERVAL_MAX_S of compute between two frames (at the mean step time so far), one every
    FRAME_INTERVAL_MAX_S; none in the last half interval (the last step comes then). Frame k is due k intervals
    from the run's start, not an interval after frame k - 1: each frame comes up to a step late, and counted from
    the last one that lateness added up (8 or 9 frames where 9 were aimed at)."""
    if step in (1, total):
        return True
    interval = total / (FRAMES_PER_RUN - 1)  # in steps
    mean_step = now / step
    if mean_step * interval > FRAME_INTERVAL_MAX_S:  # a long run: frames by compute time
        interval = FRAME_INTERVAL_MAX_S / mean_step
    return step >= shown * interval and total - step >= interval / 2


def _frame(entry: tuple, start: float) -> Frame:
    """A pending step as a Frame, its render waited for; elapsed counts up to the render's end."""
    item, pictures, show, keep = entry
    if isinstance(pictures, Future):
        pictures = pictures.result()
    return Frame(item, pictures, show, keep, time.perf_counter() - start)


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
