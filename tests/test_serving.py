"""The served path without timing: the compute worker's order, frame throttling under a slow consumer, thread
settings, lazy session configs, the background warm-up and bounded per-session state."""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from core import runtime
from demos import serving, streaming


@pytest.mark.fast
def test_a_light_call_goes_before_queued_steps_of_a_long_run():
    worker, order, release = runtime.ComputeWorker("test"), [], threading.Event()
    blocker = worker.submit(release.wait)  # holds the worker while the others queue up
    time.sleep(0.05)
    long_steps = [worker.submit(lambda i=i: order.append(f"step {i}"), worker.LONG_RUN) for i in range(3)]
    background = worker.submit(lambda: order.append("warm-up"), worker.BACKGROUND)
    light = worker.submit(lambda: order.append("light"), worker.LIGHT)
    release.set()
    for future in [blocker, *long_steps, background, light]:
        future.result(timeout=5)
    assert order == ["light", "step 0", "step 1", "step 2", "warm-up"]


@pytest.mark.fast
def test_iterate_runs_each_item_on_the_worker_one_ahead_and_closes_the_run():
    worker, threads, closed = runtime.ComputeWorker("test"), [], []

    def run():
        try:
            for i in range(5):
                threads.append(threading.current_thread().name)
                yield i
        finally:
            closed.append(threading.current_thread().name)

    stream = worker.iterate(run())
    assert next(stream) == 0
    time.sleep(0.1)
    assert len(threads) == 2  # item 1 was computed while the caller held item 0
    stream.close()  # a stopped run
    assert set(threads) == {"test"} and closed == ["test"]


@pytest.mark.fast
def test_iterate_raises_the_iterators_error_in_the_caller():
    worker = runtime.ComputeWorker("test")

    def failing():
        yield 1
        raise ValueError("step 2 failed")

    stream = worker.iterate(failing())
    assert next(stream) == 1
    with pytest.raises(ValueError, match="step 2 failed"):
        next(stream)


@pytest.mark.fast
def test_the_worker_applies_the_thread_setting_per_job_and_gives_it_back(monkeypatch):
    torch.set_num_threads(2)
    monkeypatch.setenv("GENMODELS_THREADS", "1")
    worker = runtime.ComputeWorker("test")
    assert worker.run(torch.get_num_threads) == 1
    assert worker.run(torch.get_num_threads, threads=2) == 2
    assert torch.get_num_threads() == 2  # code outside the worker keeps the process's setting
    monkeypatch.delenv("GENMODELS_THREADS")
    assert runtime.compute_threads() >= 1


def wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.perf_counter() + seconds
    while not condition():
        assert time.perf_counter() < deadline, "timed out"
        time.sleep(0.005)


@dataclass
class Step:
    step: int
    total: int


def slow_steps(n: int, seconds: float):
    for i in range(1, n + 1):
        time.sleep(seconds)
        yield Step(i, n)


def test_frames_follow_compute_time_not_a_slow_consumer():
    """50 steps of 10 ms and a consumer that takes 0.3 s per frame: a wall-clock throttle shows every step."""
    shown = 0
    for frame in streaming.stream_steps(slow_steps(50, 0.01), lambda item: (item.step,)):
        if frame.show:
            shown += 1
            time.sleep(0.3)
    assert streaming.FRAMES_PER_RUN - 1 <= shown <= streaming.FRAMES_PER_RUN + 1


def test_frames_aim_at_frames_per_run_the_first_and_last_steps_among_them():
    frames = [f for f in streaming.stream_steps(slow_steps(100, 0.02), lambda item: ()) if f.show]
    assert frames[0].item.step == 1 and frames[-1].item.step == 100
    # 2 s of compute: FRAMES_PER_RUN frames by the aim (9: the first step, 7 on a grid of 0.25 s, the last step);
    # counted "an interval after the last frame", each came up to a step late and 8 came at times
    assert streaming.FRAMES_PER_RUN - 1 <= len(frames) <= streaming.FRAMES_PER_RUN + 1
    assert len(frames) >= 8  # what a run streams (issue 14)
    gaps = np.diff([f.item.step for f in frames])
    assert gaps.max() - gaps.min() <= 3, gaps  # evenly spread (12 or 13 steps apart)


def test_a_short_run_reaches_the_page_as_frames_a_tenth_of_a_second_apart_without_slowing_the_sampler():
    """20 steps in 0.2 s, served: the page gets FRAMES_PER_RUN frames FRAME_INTERVAL_S apart (0.8 s from the first
    to the last), while the sampler ends at its own pace, long before the page has its last frame. Handed on one
    ahead, as before, the sampler would wait for each frame's turn."""
    ended = []

    def run(n):
        yield from slow_steps(n, 0.01)
        ended.append(time.perf_counter())

    @streaming.sampler_stream
    def handler():
        for frame in streaming.stream_steps(run(20), lambda item: (item.step,)):
            yield frame.item.step

    shown, times = [], []
    for step in handler():
        shown.append(step)
        times.append(time.perf_counter())
    assert shown[0] == 1 and shown[-1] == 20 and len(shown) >= 8, shown
    # 0.1 s apart as handed on; the test's own clock reading may come a little late (a loaded machine)
    assert min(np.diff(times)) >= streaming.FRAME_INTERVAL_S - 0.02, np.diff(times)
    assert ended[0] < times[-1] - 0.4, (ended[0] - times[0], times[-1] - times[0])


@pytest.mark.fast
def test_iterate_computes_up_to_ahead_items_while_the_caller_holds_one():
    worker, computed = runtime.ComputeWorker("test"), []

    def run():
        for i in range(10):
            computed.append(i)
            yield i

    stream = worker.iterate(run(), ahead=3)
    assert next(stream) == 0
    wait_until(lambda: len(computed) == 4)
    time.sleep(0.05)
    assert computed == [0, 1, 2, 3]  # three ready beyond the one held, then the worker stops
    assert list(stream) == list(range(1, 10))


@pytest.mark.fast
def test_items_computed_ahead_see_the_callers_context_variables():
    """The jobs after the first are queued from the worker's thread: they still run in the caller's context."""
    request = contextvars.ContextVar("request", default=None)
    worker = runtime.ComputeWorker("test")

    def run():
        for _ in range(4):
            yield request.get()

    request.set("student 7")
    assert list(worker.iterate(run(), ahead=3)) == ["student 7"] * 4


@pytest.mark.fast
def test_two_runs_computing_ahead_still_take_turns_on_the_worker():
    """Each run has one job queued at a time, the next queued when it ends: the worker alternates between them.
    (Queued all at once, a run's items would all go before the other's first.)"""
    worker, order, gate = runtime.ComputeWorker("test"), [], threading.Event()
    worker.submit(gate.wait)  # hold the worker until both runs are waiting

    def run(name):
        for i in range(3):
            order.append(f"{name}{i}")
            yield i

    streams = [worker.iterate(run(name), ahead=5) for name in "ab"]
    consumers = [threading.Thread(target=list, args=(stream,)) for stream in streams]
    for queued, consumer in enumerate(consumers, 1):  # a's first job queued before b's
        consumer.start()
        wait_until(lambda queued=queued: worker._jobs.qsize() == queued)
    gate.set()
    for consumer in consumers:
        consumer.join(5)
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"], order


@pytest.mark.fast
def test_a_run_stopped_while_computing_ahead_is_closed_on_the_worker():
    worker, closed, computed = runtime.ComputeWorker("test"), [], []

    def run():
        try:
            for i in range(100):
                computed.append(i)
                time.sleep(0.001)
                yield i
        finally:
            closed.append(threading.current_thread().name)

    stream = worker.iterate(run(), ahead=4)
    assert next(stream) == 0
    stream.close()
    assert closed == ["test"] and len(computed) <= 6, computed


@pytest.mark.fast
def test_spaced_holds_fast_items_apart_and_adds_nothing_to_slow_ones(monkeypatch):
    times = []
    for _ in runtime.spaced(range(5), 0.05):
        times.append(time.perf_counter())
    assert min(np.diff(times)) >= 0.05 - 0.01
    sleep, waits = time.sleep, []
    monkeypatch.setattr(runtime.time, "sleep", lambda seconds: waits.append(seconds) or sleep(seconds))
    for _ in runtime.spaced(range(5), 0.05):
        sleep(0.06)  # a consumer slower than the spacing
    assert len(waits) == 4 and max(waits) == 0.0, waits


@pytest.mark.fast
def test_closing_spaced_closes_its_source():
    closed = []

    def source():
        try:
            yield from range(10)
        finally:
            closed.append(True)

    paced = runtime.spaced(source(), 0.0)
    next(paced)
    paced.close()
    assert closed == [True]


def test_frames_rendered_beside_the_sampler_come_in_order_and_none_is_lost():
    """Rendering on the frame worker: each render runs on that thread, not the sampler's; every shown or kept step
    is handed on once, in step order, the last step last, though renders finish after the sampler has moved on."""
    threads = set()

    def slow_render(item):
        threads.add(threading.current_thread().name)
        time.sleep(0.03)  # three steps' time: the sampler is ahead when it ends
        return (item.step,)

    def measure(item):  # a kept step nobody sees: no pictures
        threads.add(threading.current_thread().name)
        return ("measured", item.step)

    frames = list(
        streaming.stream_steps(slow_steps(40, 0.01), slow_render, keep_every=2, beside=True, render_kept=measure)
    )
    steps = [f.item.step for f in frames]
    assert steps == sorted(set(steps)) and steps[-1] == 40 and frames[-1].show, steps
    assert {1, *range(2, 41, 2)} <= {f.item.step for f in frames if f.keep}
    assert all(f.pictures == ((f.item.step,) if f.show else ("measured", f.item.step)) for f in frames)
    assert any(not f.show for f in frames)  # kept steps (1, 2, 4, ...) outnumber the shown ones
    assert threads == {streaming.FRAME_WORKER.name}


def test_renders_beside_the_sampler_stay_at_most_a_few_steps_behind_it():
    """Renders three times slower than a step, every step rendered: the sampler waits for them past
    MAX_RENDERS_AHEAD instead of running ahead (unbounded, it would finish 20 steps ahead of the renders)."""
    produced = []

    def counted_steps(n: int):
        for step in slow_steps(n, 0.01):
            produced.append(step.step)
            yield step

    lags = []

    def slow_render(item):
        lags.append(produced[-1] - item.step)
        time.sleep(0.03)
        return (item.step,)

    frames = list(streaming.stream_steps(counted_steps(30), slow_render, keep_every=1, beside=True))
    assert [f.item.step for f in frames] == list(range(1, 31))
    assert max(lags) <= streaming.MAX_RENDERS_AHEAD + 1, lags


def gated_render(started: list, gate: threading.Event, hold_from: int, fail_at: int | None = None):
    """A render that notes each step it starts; step 1 takes six steps' time (the renders of steps 2-5 queue up
    behind it), step fail_at fails, and from hold_from on a render holds the frame thread until the gate opens."""

    def render(item):
        started.append(item.step)
        if item.step == 1:
            time.sleep(0.03)
        elif item.step == fail_at:
            raise ValueError(f"render {fail_at} failed")
        elif item.step >= hold_from:
            gate.wait(5)
        return (item.step,)

    return render


def test_a_stopped_run_drops_the_renders_still_queued_beside_it():
    started, gate = [], threading.Event()
    render = gated_render(started, gate, hold_from=2)  # step 2's render holds while the run is stopped
    run = streaming.stream_steps(slow_steps(40, 0.005), render, keep_every=1, beside=True)
    assert next(run).item.step == 1
    run.close()
    gate.set()
    streaming.FRAME_WORKER.run(lambda: None)  # the frame thread has passed whatever was queued
    assert set(started) <= {1, 2}, started  # without the drop: 1-5, every render queued when it stopped


def test_a_failed_render_reaches_the_caller_and_drops_the_queued_ones():
    started, gate = [], threading.Event()
    render = gated_render(started, gate, hold_from=4, fail_at=3)  # step 4's holds while the failure is handed on
    with pytest.raises(ValueError, match="render 3 failed"):
        for _ in streaming.stream_steps(slow_steps(40, 0.005), render, keep_every=1, beside=True):
            pass
    gate.set()
    streaming.FRAME_WORKER.run(lambda: None)
    assert set(started) <= {1, 2, 3, 4}, started  # without the drop: up to MAX_RENDERS_AHEAD renders past step 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own CPU priority is Linux's")
def test_the_frame_thread_runs_at_a_lower_cpu_priority_than_the_caller():
    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    ours = priority()
    assert streaming.FRAME_WORKER.run(priority) == min(19, ours + streaming.FRAME_WORKER.nice)
    assert streaming.FRAME_WORKER.nice > 0 and runtime.COMPUTE.nice == 0  # the sampler keeps the caller's priority


def test_a_worker_started_before_a_fork_serves_in_the_forked_child():
    """ZeroGPU runs each call in a forked process: the worker's thread is not copied, so the child must start its
    own instead of queueing jobs for a thread that is not there."""
    import multiprocessing

    worker = runtime.ComputeWorker("before-fork")
    assert worker.run(lambda: 1) == 1  # started in the parent

    def child():
        raise SystemExit(0 if worker.run(lambda: 42, threads=1) == 42 else 1)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(30)
    if process.exitcode is None:
        process.kill()
    assert process.exitcode == 0


@pytest.mark.fast
def test_new_sessions_do_not_copy_every_blocks_config(monkeypatch):
    from gradio import state_holder
    from gradio.blocks import BlocksConfig

    serving.lighten_sessions()
    with gr.Blocks() as blocks:
        for _ in range(20):
            gr.Textbox()
    calls = []
    original = BlocksConfig.config_for_block
    monkeypatch.setattr(
        BlocksConfig, "config_for_block", staticmethod(lambda *a, **k: calls.append(1) or original(*a, **k))
    )
    session = state_holder.SessionState(blocks)
    assert calls == [] and session.config_values == {}


@pytest.mark.fast
def test_a_cached_picture_is_written_whole_once_and_never_rewritten_under_a_reader(tmp_path, monkeypatch):
    import builtins
    import io

    from gradio import processing_utils
    from PIL import Image

    serving.write_cached_pictures_once()
    picture = Image.fromarray(np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3))
    first = Path(processing_utils.save_pil_to_cache(picture, str(tmp_path), format="png"))
    before = first.stat()
    writes = []  # files opened for writing while a second session gets the same picture
    for module, name in ((builtins, "open"), (io, "open")):
        original = getattr(module, name)

        def recording(file, mode="r", *args, _original=original, **kwargs):
            if any(flag in mode for flag in "wa+"):
                writes.append(Path(file).resolve())
            return _original(file, mode, *args, **kwargs)

        monkeypatch.setattr(module, name, recording)
    with first.open("rb") as reader:  # a browser fetching it meanwhile
        again = processing_utils.save_pil_to_cache(picture, str(tmp_path), format="png")
        data = reader.read()
    monkeypatch.undo()
    assert again == str(first) and first.resolve() not in writes  # Gradio's own save truncated and rewrote it
    assert first.stat().st_ino == before.st_ino and first.stat().st_ctime_ns >= before.st_ctime_ns  # age restarts
    assert Image.open(first).tobytes() == picture.tobytes() and len(data) == before.st_size
    assert [p.name for p in first.parent.iterdir()] == ["image.png"]  # no temporary file left behind


@pytest.mark.fast
def test_warm_up_runs_every_task_in_order_past_a_failure(caplog):
    done = []

    def broken():
        raise FileNotFoundError("no checkpoint")

    thread = serving.warm_up_in_background(
        [("a", lambda: done.append("a")), ("broken", broken), ("b", lambda: done.append("b"))]
    )
    thread.join(timeout=5)
    assert done == ["a", "b"] and "warm-up of broken failed" in caplog.text


def test_per_session_state_expires():
    import app as app_module

    blocks = app_module.build_app()
    states = [block for block in blocks.blocks.values() if isinstance(block, gr.State)]
    assert states and all(state.time_to_live is not None for state in states)


def test_long_runs_show_their_progress_on_the_status_line_only_and_the_page_load_calls_no_server():
    """Long runs share one queue and show Gradio's progress (queue place, timer) on one text output, not over their
    pictures; the page's load events run in the browser (presets, presenter mode), but for the landing tab's results."""
    import app as app_module

    blocks = app_module.build_app()
    long_runs = [d for d in blocks.fns.values() if d.concurrency_id == streaming.LONG_RUN_QUEUE["concurrency_id"]]
    assert {d.api_name for d in long_runs} >= {"text_to_image", "diffusion_sample", "toy_gan_train"}
    for dependency in long_runs:
        targets = dependency.show_progress_on
        assert targets is not None and len(targets) == 1, dependency.api_name
        assert isinstance(targets[0], gr.Markdown) and targets[0] in dependency.outputs, dependency.api_name
    loads = [d for d in blocks.fns.values() if any(event == "load" for _, event in d.targets)]
    on_the_server = {d.api_name for d in loads if d.fn is not None}
    assert len(loads) >= 4 and on_the_server == {"ae_open", "ae_open_denoising"}  # the landing tab's results


@pytest.mark.fast
def test_sessions_unused_past_their_time_to_live_are_let_go_whole_and_used_ones_stay():
    import datetime

    from gradio import state_holder

    with gr.Blocks() as blocks:
        replay = gr.State([], time_to_live=1800)
        gr.Textbox()
    holder = state_holder.StateHolder()
    holder.set_blocks(blocks)
    deleted = []
    replay.delete_callback = deleted.append
    for session in ("left", "still here"):
        holder[session][replay._id] = [session]
    holder.time_last_used["left"] -= datetime.timedelta(seconds=61)
    assert serving.drop_idle_sessions(holder, ttl_s=60) == 1
    assert list(holder.session_data) == ["still here"] and list(holder.time_last_used) == ["still here"]
    assert deleted == [["left"]]  # the State's delete callback ran, as for Gradio's own expiry
    assert holder["still here"][replay._id] == ["still here"]
    assert serving.drop_idle_sessions(holder, ttl_s=60) == 0
    holder.time_last_used["still here"] -= datetime.timedelta(seconds=61)
    assert serving.drop_idle_sessions(holder, ttl_s=60, held_open={"still here"}) == 0  # a page open, idle
    assert list(holder.session_data) == ["still here"]


@pytest.mark.fast
def test_the_sweep_gradio_runs_every_second_lets_idle_sessions_go(monkeypatch):
    import datetime

    from gradio import state_holder

    monkeypatch.setattr(
        state_holder.StateHolder, "delete_all_expired_state", state_holder.StateHolder.delete_all_expired_state
    )  # undone after the test
    for name, value in (("_expiring_sessions", False), ("_session_ttl_s", None)):
        monkeypatch.setattr(state_holder.StateHolder, name, value, raising=False)  # undone: the test server's own
    serving.expire_sessions(ttl_s=30)
    with gr.Blocks() as blocks:
        gr.Textbox()
    holder = state_holder.StateHolder()
    holder.set_blocks(blocks)
    holder["old"], holder["new"]
    holder.time_last_used["old"] -= datetime.timedelta(seconds=31)
    holder.delete_all_expired_state()
    assert list(holder.session_data) == ["new"]


@pytest.mark.fast
def test_freed_memory_goes_back_at_most_once_a_period_and_only_after_activity():
    import threading

    released = threading.Semaphore(0)
    freed = serving.FreedMemory(every_s=60, release=released.release)
    start = freed.released_at
    assert not freed.tick(start + 120)  # nothing served since: nothing to hand back
    freed.note_activity()
    assert not freed.tick(start + 30)  # served, but released less than a period ago
    assert freed.tick(start + 61) and released.acquire(timeout=5)
    freed.note_activity()
    assert not freed.tick(start + 100) and freed.tick(start + 121) and released.acquire(timeout=5)
    assert not freed.tick(start + 500)


@pytest.mark.fast
def test_every_request_counts_as_activity_for_the_freed_memory(monkeypatch):
    import asyncio

    freed = serving.FreedMemory(every_s=60, release=lambda: None)
    monkeypatch.setattr(serving, "FREED_MEMORY", freed)

    async def gradio_app(scope, receive, send):
        pass

    asyncio.run(serving.HeartbeatTracker(gradio_app)({"type": "http", "path": "/gradio_api/queue/join"}, None, None))
    assert freed.pending


@pytest.mark.fast
def test_the_heartbeat_tracker_knows_which_sessions_a_page_holds_open():
    import asyncio

    seen = []

    async def gradio_app(scope, receive, send):
        seen.append(dict(serving.CONNECTED))

    tracker = serving.HeartbeatTracker(gradio_app)
    asyncio.run(tracker({"type": "http", "path": "/gradio_api/heartbeat/abc123"}, None, None))
    asyncio.run(tracker({"type": "http", "path": "/gradio_api/queue/data"}, None, None))
    assert seen == [{"abc123": 1}, {}] and serving.CONNECTED == {}


@pytest.mark.fast
def test_the_session_time_to_live_is_an_hour_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv("GENMODELS_SESSION_TTL_S", raising=False)
    assert serving.session_ttl_s() == 3600
    monkeypatch.setenv("GENMODELS_SESSION_TTL_S", "20")
    assert serving.session_ttl_s() == 20


def test_the_benchmarks_browser_protocol_client_reads_results_and_refusals(server_url):
    from benchmarks.served import SyncSession

    session = SyncSession(server_url)
    ok = session.call("divergence", ["0.36, 0.48, 0.16", "1, 1, 1"])
    refused = session.call("gan_sample", [-1, 16])
    streamed = session.call("diffusion_sample", [0, "DDIM", 20, 1])
    assert ok.success and not refused.success and "-1" in refused.message  # the refusal's own sentence
    assert streamed.success and streamed.frames >= 2


@pytest.mark.fast
def test_the_classroom_load_only_targets_this_machine():
    from benchmarks.classroom import run_classroom

    with pytest.raises(ValueError, match="loopback"):
        run_classroom("http://192.0.2.1:7860", students=1, seconds=1)


@pytest.mark.fast
def test_jobs_see_the_callers_context_variables():
    import contextvars

    request = contextvars.ContextVar("request", default=None)
    request.set("student 7")
    assert runtime.ComputeWorker("test").run(request.get) == "student 7"


def test_a_full_long_run_queue_turns_the_next_click_away_at_once_and_light_calls_still_run():
    from benchmarks.served import SyncSession
    from tests.conftest import free_port

    saved = dict(serving.WAITING_LIMITS)
    serving.limit_waiting({"long": 1})
    release = threading.Event()

    def long_run(x):
        yield "started"
        release.wait(timeout=30)
        yield "done"

    with gr.Blocks() as blocks:
        box, out = gr.Textbox(), gr.Textbox()
        box.submit(long_run, box, out, api_name="long_run", concurrency_id="long", concurrency_limit=1)
        box.change(lambda x: x.upper(), box, out, api_name="light")
    blocks.queue(max_size=50)
    port = free_port()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        results = {}

        def call(name):
            results[name] = SyncSession(url).call("long_run", ["x"])

        running = threading.Thread(target=call, args=("running",))
        running.start()
        time.sleep(1.0)  # the first run holds the group's one slot
        waiting = threading.Thread(target=call, args=("waiting",))
        waiting.start()
        time.sleep(1.0)  # the second waits in the queue: the group's limit
        turned_away = SyncSession(url).call("long_run", ["x"])  # HTTP 503 at queue/join: not queued
        light = SyncSession(url).call("light", ["abc"])
        release.set()
        running.join(timeout=30)
        waiting.join(timeout=30)
    finally:
        release.set()
        blocks.close()
        serving.limit_waiting(saved)
    assert turned_away.busy and not turned_away.success
    assert "server is busy" in turned_away.message and "1 runs like this one are waiting" in turned_away.message
    assert light.success
    assert results["running"].success and results["waiting"].success


def test_the_server_app_is_built_at_launch_only(monkeypatch):
    from gradio import routes

    built = []
    gradio_create_app = routes.App.__dict__["create_app"]
    monkeypatch.setattr(
        routes.App,
        "create_app",
        staticmethod(lambda *args, **kwargs: built.append(1) or gradio_create_app.__func__(*args, **kwargs)),
    )
    with serving.server_app_built_once():
        with gr.Blocks() as blocks:
            gr.Button().click(lambda: None, api_name="noop")
        blocks.queue()
    assert built == []  # Gradio builds it when the Blocks close and when they are queued
    with gr.Blocks():
        pass
    assert built  # outside the context, Gradio builds it again (twice, as the Blocks close)


def test_the_page_config_is_computed_once_at_launch_and_is_what_gradio_would_compute(monkeypatch):
    from tests.conftest import free_port

    calls = []
    gradio_config = gr.Blocks.__dict__["get_config_file"]
    monkeypatch.setattr(gr.Blocks, "get_config_file", lambda self: calls.append(1) or gradio_config(self))
    with serving.server_app_built_once():
        with gr.Blocks() as blocks:
            gr.Slider(0, 10, label="a slider").change(lambda x: x, gr.Number(), gr.Number(), api_name="echo")
        blocks.queue()
    assert calls == []  # the closing Blocks' config is skipped too: launch() computes it with its options
    serving.launch(
        blocks,
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        css=".x { color: red }",
        js="() => {}",
        theme=gr.themes.Soft(),
    )
    try:
        assert calls == [1]  # once, where Gradio computes it twice
        assert blocks.config == gradio_config(blocks)  # nothing changed in between: the same config is served
        assert blocks.config["css"] == ".x { color: red }"
    finally:
        blocks.close()


def test_a_connected_client_holds_its_session_open_on_the_served_app(server_url):
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    try:
        deadline = time.monotonic() + 10
        while client.session_hash not in serving.CONNECTED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.session_hash in serving.CONNECTED  # its heartbeat passed through HeartbeatTracker
    finally:
        client.close()
