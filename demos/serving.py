"""How the app is served: Gradio settings chosen from measurements of a classroom on a 2-core machine
(`python -m benchmarks`, served path), and the background warm-up that runs once the page is up.

Two per-request costs of Gradio 6 that a minimal app does not show, both found by profiling the server under load:
- Every new session copies the config of every block (this app has about 400): 40 ms on the event loop, where it
  blocks every other request, and about 0.5 MB kept per session. Gradio uses that copy only for its deep-link
  button, which this app does not have, so sessions here fill it lazily (what changes, as Gradio already does).
- After every event the queue rebuilds a pandas summary of the last 10,000 events for its monitoring page (off
  here): a cost that grows with the number of calls served. It is computed once per million events instead.
"""
from __future__ import annotations

import copy
import logging
import os
import threading
import time
from typing import Callable, Iterable

from core.runtime import keep_freed_memory

log = logging.getLogger(__name__)

ANALYTICS_EVERY_N_EVENTS = 1_000_000
ANALYTICS_EVENTS_KEPT = 1_000


def configure_gradio() -> None:
    """Call before the Blocks are built and queued (the queue reads these settings when it is created)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY_N_EVENTS))
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", str(ANALYTICS_EVENTS_KEPT))
    lighten_sessions()
    keep_freed_memory()


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
        log.info("warm-up done in %.1f s (%d tasks)", time.perf_counter() - started, len(tasks))

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
