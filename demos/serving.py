"""How the app is served: Gradio settings chosen from measurements of a classroom on a 2-core machine
(`python -m benchmarks`, served path), and the background warm-up that runs once the page is up.

Two per-request costs of Gradio 6 that a minimal app does not show, both found by profiling the server under load:
- Every new session copies the config of every block (this app has about 400): 40 ms on the event loop, where it
  blocks every other request, and about 0.5 MB kept per session. Gradio uses that copy only for its deep-link
  button, which this app does not have, so sessions here fill it lazily (what changes, as Gradio already does).
- After every event the queue rebuilds a pandas summary of the last 10,000 events for its monitoring page (off
  here): a cost that grows with the number of calls served. It is computed once per million events instead.

One race: Gradio names a cached output picture by the hash of its bytes and writes it in place, truncating first;
when two sessions get the same picture (every student opening the landing tab gets its default result), one
session's browser can fetch the file while another rewrites it, and the server fails the fetch ("Too little data for
declared Content-Length"): the picture never shows. Seen in the benchmark's first-open runs. Here a cached picture
is written once, whole (a temporary file, then renamed), and an existing one is reused, its age for the hourly
cache cleanup starting over.

Sessions are never let go in Gradio 6: a session's state values expire, but the session itself (its config copy,
every block a handler updated) stays until 10,000 newer ones push it out. Here a session that no page holds open
(its heartbeat connection) and that was unused for an hour is dropped whole, and the memory it held goes back to the
system (`python -m benchmarks.sessions` measures it).

And one limit of its queue: a bound on the whole queue only. Sixty students on two cores ask for more sampler runs
than the machine can do (each is seconds of compute); unbounded, a run waited two minutes behind the others. So a
concurrency group can have its own bound on waiting requests: past it a request is turned away at once, and the page
says so (Gradio's "This application is currently busy. Please try again."; an API client gets the reason).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import gradio as gr

from core.runtime import keep_freed_memory, release_freed_memory
from demos import intake

log = logging.getLogger(__name__)

ANALYTICS_EVERY_N_EVENTS = 1_000_000
ANALYTICS_EVENTS_KEPT = 1_000


def configure_gradio(waiting_limits: dict[str, int] | None = None) -> None:
    """Call before the Blocks are built and queued (the queue reads these settings when it is created).
    waiting_limits: concurrency group -> the most requests of it that may wait at once (see limit_waiting)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY_N_EVENTS))
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", str(ANALYTICS_EVENTS_KEPT))
    lighten_sessions()
    expire_sessions(session_ttl_s())
    intake.install()
    write_cached_pictures_once()
    limit_waiting(waiting_limits or {})
    keep_freed_memory()


WAITING_LIMITS: dict[str, int] = {}  # concurrency group -> most waiting requests (set by limit_waiting)
BUSY_MESSAGE = (
    "The server is busy: {waiting} runs like this one are waiting already, behind {running} running. "
    "Try again in a few seconds."
)
QUEUE_FULL_MESSAGE = "The server is busy: {waiting} requests are waiting. Try again in a few seconds."


def limit_waiting(limits: dict[str, int]) -> None:
    """From now on a request whose concurrency group has `limits[group]` requests waiting already is turned away
    at once: HTTP 503 with BUSY_MESSAGE (the queue's own 'queue_full' answer, which the page shows as "busy, try
    again"). The queue's overall bound answers with QUEUE_FULL_MESSAGE instead of Gradio's wording."""
    from gradio import queueing, route_utils

    WAITING_LIMITS.clear()
    WAITING_LIMITS.update(limits)
    if getattr(queueing.Queue, "_waiting_limits", False):
        return
    gradio_push = queueing.Queue.push

    async def push(self, body, request, username):
        if body.fn_index is not None and self.max_size is not None and len(self) >= self.max_size:
            return False, QUEUE_FULL_MESSAGE.format(waiting=len(self)), "queue_full"
        if body.fn_index is not None and WAITING_LIMITS:
            try:
                group = route_utils.get_fn(self.blocks, None, body).concurrency_id
            except Exception:  # Gradio's own push answers a bad fn_index
                group = None
            limit = WAITING_LIMITS.get(group)
            event_queue = self.event_queue_per_concurrency_id.get(group)
            if limit is not None and event_queue is not None and len(event_queue.queue) >= limit:
                return (
                    False,
                    BUSY_MESSAGE.format(waiting=len(event_queue.queue), running=event_queue.current_concurrency),
                    "queue_full",
                )
        return await gradio_push(self, body, request, username)

    queueing.Queue.push = push
    queueing.Queue._waiting_limits = True


def write_cached_pictures_once() -> None:
    """Gradio's save_pil_to_cache, but a picture's file is written whole and never rewritten (see the module's
    docstring): same bytes, same name, so an existing file is the same picture."""
    from gradio import processing_utils

    if getattr(processing_utils, "_cached_once", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        path = (folder / f"{name}.{format}").resolve()
        try:
            os.utime(path)  # the same picture again: it stays, and its age for delete_cache starts over
        except FileNotFoundError:
            folder.mkdir(exist_ok=True, parents=True)
            with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as part:
                part.write(data)
            os.replace(part.name, path)
        return str(path)

    processing_utils.save_pil_to_cache = save_pil_to_cache
    processing_utils._cached_once = True


def lighten_sessions() -> None:
    """New sessions stop copying every block's config up front (see the module's docstring)."""
    from gradio import state_holder

    if getattr(state_holder.SessionState, "_lazy_configs", False):
        return

    def __init__(self, blocks) -> None:  # Gradio 6's SessionState.__init__, less the eager config copy
        self.blocks_config = copy.copy(blocks.default_config)
        self.config_values = {}  # filled per block by Gradio when a value changes (_update_value_in_config)
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600

    state_holder.SessionState.__init__ = __init__
    state_holder.SessionState._lazy_configs = True


SESSION_TTL_S = 3600.0  # as long as Gradio keeps a closed page's state for its return
TRIM_EVERY_S = 60.0  # memory freed while serving goes back to the system at most this often (see FreedMemory)
HEARTBEAT_PATH = re.compile(r"/heartbeat/([^/]+)/?$")
CONNECTED: dict[str, int] = {}  # session -> its open heartbeat connections (an open page, a gradio_client)


def session_ttl_s() -> float:
    """Seconds a session may stay unused, once no page holds it open, before it is let go; env
    GENMODELS_SESSION_TTL_S overrides (the benchmark's session run uses a short one)."""
    value = os.environ.get("GENMODELS_SESSION_TTL_S")
    return max(1.0, float(value)) if value else SESSION_TTL_S


class FreedMemory:
    """When the memory that malloc keeps freed goes back to the system (release_freed_memory, about 20 ms here).

    keep_freed_memory has malloc keep what the process frees (a sampler's step reuses its last step's memory instead
    of faulting it in again), so the process keeps its peak in every malloc arena: the server's threads encode
    pictures and build pages in theirs, and a fresh visitor's page adds memory that stays after the request is done.
    Measured: 26 fresh pages opening every tab took the server's RSS from 1,229 to 1,423 MB, and malloc_trim gave
    back all but 39 MB of it; of the 1,465 MB the warm-up left, 265 MB was freed memory. So it is handed back when
    the warm-up ends, after idle sessions are let go, and at most once every TRIM_EVERY_S while requests come (a
    step's memory faults in again once a minute at most: a few ms). A 5-minute classroom (60 students, 10% heavy)
    on a fresh server: RSS 1,200 MB after warm-up, 1,285 MB at the end (peak 1,390)."""

    def __init__(self, every_s: float = TRIM_EVERY_S, release: Callable[[], object] = release_freed_memory) -> None:
        self.every_s, self.release = every_s, release
        self.pending = False  # something was served or let go since the last release
        self.released_at = time.monotonic()

    def note_activity(self) -> None:
        self.pending = True

    def tick(self, now: float | None = None) -> bool:
        """Release on a thread of its own when due (called every second by Gradio's sweep); True if it did."""
        now = time.monotonic() if now is None else now
        if not self.pending or now - self.released_at < self.every_s:
            return False
        self.pending, self.released_at = False, now
        threading.Thread(target=self.release, name="trim", daemon=True).start()
        return True


FREED_MEMORY = FreedMemory()


class HeartbeatTracker:
    """ASGI middleware: which sessions have a heartbeat connection open now. An open page holds one for as long as
    it is open, however long it sits idle, so its session is never let go; a closed page's or a plain HTTP caller's
    session is, once unused for the time-to-live. Every request also counts as activity for FREED_MEMORY."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        FREED_MEMORY.note_activity()
        found = HEARTBEAT_PATH.search(scope.get("path", "")) if scope["type"] == "http" else None
        if found is None:
            return await self.app(scope, receive, send)
        session = found.group(1)
        CONNECTED[session] = CONNECTED.get(session, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            CONNECTED[session] -= 1
            if CONNECTED[session] <= 0:
                del CONNECTED[session]


def app_options() -> dict:
    """launch(app_kwargs=…): the served app's middleware (HeartbeatTracker)."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(HeartbeatTracker)]}


def expire_sessions(ttl_s: float) -> None:
    """Let go of every session that no page holds open and that was unused for `ttl_s` seconds: its state (with
    its delete callbacks) and the session itself (see the module's docstring). Runs in Gradio's once-a-second sweep
    of expired state; the memory goes back to the system on a thread of its own, at most once a minute (FreedMemory)."""
    from gradio import state_holder

    holder = state_holder.StateHolder
    holder._session_ttl_s = ttl_s
    if getattr(holder, "_expiring_sessions", False):
        return
    gradio_sweep = holder.delete_all_expired_state

    def delete_all_expired_state(self) -> None:
        gradio_sweep(self)
        try:  # an error here must not end Gradio's sweep task (it has no guard): logged, tried again next second
            if drop_idle_sessions(self, self._session_ttl_s, CONNECTED):
                FREED_MEMORY.note_activity()
            FREED_MEMORY.tick()
        except Exception:
            log.exception("letting idle sessions go failed")

    holder.delete_all_expired_state = delete_all_expired_state
    holder._expiring_sessions = True


def drop_idle_sessions(holder, ttl_s: float, held_open=()) -> int:
    """Remove the sessions of a Gradio StateHolder unused for `ttl_s` seconds, but those in `held_open`; returns how
    many. A page that comes back later starts a fresh session (its controls send their values with every event)."""
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=ttl_s)
    with holder.lock:  # checked and removed together: a session used meanwhile stays
        idle = [
            session
            for session, used in list(holder.time_last_used.items())
            if used < cutoff and session not in held_open
        ]
        dropped = [holder.session_data.pop(session, None) for session in idle]
        for session in idle:
            holder.time_last_used.pop(session, None)
    for session_state in dropped:
        for component, value, _ in session_state.state_components if session_state is not None else ():
            component.delete_callback(value)  # as Gradio's own expiry of a State value does
    return len(idle)


@contextlib.contextmanager
def server_app_built_once():
    """While building the Blocks, Gradio builds its server app (about 250 routes, the API description and the
    config of every block: 0.15-0.25 s for this app's 431 components) when the Blocks close and again when they are
    queued, and launch() builds it once more, replacing both. Inside this context the first two are skipped, and so is
    the page config the Blocks compute as they close (launch() computes it again with the theme, CSS and script): only
    launch() builds them (cold start, issue 14)."""
    from gradio import routes

    gradio_create_app = routes.App.__dict__["create_app"]
    gradio_config = gr.Blocks.__dict__["get_config_file"]
    routes.App.create_app = staticmethod(lambda *args, **kwargs: None)
    gr.Blocks.get_config_file = lambda self: {}  # only the closing Blocks ask for it here
    try:
        yield
    finally:
        routes.App.create_app = gradio_create_app
        gr.Blocks.get_config_file = gradio_config


def launch(blocks: gr.Blocks, **options) -> None:
    """blocks.launch(**options), with the page config computed once: launch() computes it, then computes it again,
    unchanged, as it sets up the MCP server this app does not run (0.25 s each for this app's 431 components;
    tests/test_serving.py checks that the config served is the one Gradio would compute now)."""
    gradio_config = gr.Blocks.__dict__["get_config_file"]
    computed: dict = {}

    def config_once(self, *args, **kwargs):
        if self is not blocks or args or kwargs:
            return gradio_config(self, *args, **kwargs)
        if "config" not in computed:
            computed["config"] = gradio_config(self)
        return computed["config"]

    gr.Blocks.get_config_file = config_once
    try:
        blocks.launch(**options)
    finally:
        gr.Blocks.get_config_file = gradio_config


def warm_up_in_background(tasks: Iterable[tuple[str, Callable[[], object]]]) -> threading.Thread:
    """Run each (name, task) once, in order, on one background thread: model loads and the results each tab shows
    when it opens, so that no first click waits on them. A failing task is logged; the tab says why when used."""
    tasks = list(tasks)

    def run() -> None:
        started = time.perf_counter()
        for name, task in tasks:
            try:
                task()
            except Exception:  # a missing checkpoint: its tab shows the notice and the rebuild command
                log.warning("warm-up of %s failed", name, exc_info=True)
        release_freed_memory()  # what loading the checkpoints freed (FreedMemory)
        log.info("warm-up done in %.1f s (%d tasks)", time.perf_counter() - started, len(tasks))

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
