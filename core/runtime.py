"""Runtime: device choice, bf16 autocast choice, a lazy thread-safe model cache, the compute worker that runs all
model work of a served app, and the ZeroGPU shim."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import itertools
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from core.lazy import lazy_import

torch = lazy_import("torch")  # the page is drawn before torch loads (core/lazy.py)

T = TypeVar("T")


DEVICE_VARIABLE = "GENMODELS_DEVICE"


def device() -> torch.device:
    """Where models run, for inference and training: $GENMODELS_DEVICE when set (cpu, cuda, cuda:1, mps), else CUDA
    when present, else the CPU. A device that is not there is refused in a sentence, not mistaken for the CPU."""
    chosen = os.environ.get(DEVICE_VARIABLE, "").strip().lower()
    if not chosen:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        target = torch.device(chosen)
    except RuntimeError as error:
        raise ValueError(f"{DEVICE_VARIABLE}={chosen!r} names no device; use cpu, cuda, cuda:N or mps.") from error
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{DEVICE_VARIABLE}={chosen!r}, but this machine has no CUDA device; unset it or use cpu.")
    if target.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{DEVICE_VARIABLE}={chosen!r}, but this machine has no MPS device; unset it or use cpu.")
    return target


def place(model: torch.nn.Module, on: torch.device | None = None) -> torch.nn.Module:
    """`model` moved to `on` (default: device()). Its inputs follow it through `on_model_device` methods."""
    return model.to(on or device())


def _moved(value, target: torch.device):
    if isinstance(value, torch.Tensor):
        return value if value.device == target else value.to(target)
    if isinstance(value, (tuple, list)):
        return type(value)(_moved(v, target) for v in value)
    return value


def on_cpu(value):
    """A tensor (or a tuple or list of them) brought back to the CPU, to be shown or counted."""
    return _moved(value, torch.device("cpu"))


def on_model_device(method: Callable[..., T]) -> Callable[..., T]:
    """For a model's public method: its tensor arguments go to the model's device, and its tensor results come back
    to the device the first tensor argument came from.

    Inputs are made on the CPU on purpose: seeded noise from a CPU generator (a seed gives the same samples on
    every device) and pictures from the page. So the tabs hand CPU tensors in and get CPU tensors back, ready to
    show, while the network runs on the GPU; training, whose tensors already sit on the model's device, pays one
    comparison per call."""

    @functools.wraps(method)
    def call(model, *args, **kwargs):
        target = model_device(model)
        arguments = itertools.chain(args, kwargs.values())
        home = next((a.device for a in arguments if isinstance(a, torch.Tensor)), target)
        if home == target:
            return method(model, *args, **kwargs)
        result = method(model, *_moved(args, target), **{k: _moved(v, target) for k, v in kwargs.items()})
        return _moved(result, home)

    return call


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters (or buffers) are on: where inputs built for it should go."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


@functools.lru_cache(maxsize=1)
def bf16_is_faster_on_cpu() -> bool:
    """Time a 512x512 matmul in fp32 and bf16: True on CPUs with bf16 matrix units (AMX, AVX512-BF16), where bf16
    takes about 0.4 of fp32's time (this machine). The two are timed in turns, best of 7 each, after a warm-up of
    each: timed in two blocks, a burst of other work during one block (the server starting, a browser) once made a
    fast-bf16 CPU read as slow, and the app ran its samplers in fp32 for its whole life."""
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    try:
        a16, b16 = a.bfloat16(), b.bfloat16()
        a16 @ b16, a @ b  # the first call of each picks and prepares its kernel
    except RuntimeError:
        return False

    def seconds(x: torch.Tensor, y: torch.Tensor) -> float:
        start = time.perf_counter()
        for _ in range(4):
            x @ y
        return time.perf_counter() - start

    bf16_times, fp32_times = [], []
    for _ in range(7):
        bf16_times.append(seconds(a16, b16))
        fp32_times.append(seconds(a, b))
    return min(bf16_times) < 0.8 * min(fp32_times)


def milliseconds_per_call(call: Callable[[], object], repeats: int = 10, warmup: int = 1) -> float:
    """Mean wall time of call() over `repeats` calls, in milliseconds, after `warmup` untimed calls (the first calls
    fill caches and pick kernels: that is cold start, not the steady cost)."""
    for _ in range(warmup):
        call()
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return 1000 * (time.perf_counter() - start) / repeats


def use_bf16(choice: str = "auto", on: torch.device | None = None) -> bool:
    """Resolve a bf16 choice: 'on', 'off', or 'auto' (env GENMODELS_BF16 overrides; auto measures the CPU)."""
    choice = os.environ.get("GENMODELS_BF16", choice).lower()
    if choice in ("on", "1", "true"):
        return True
    if choice in ("off", "0", "false"):
        return False
    target = on or device()
    if target.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bf16_is_faster_on_cpu()


def autocast(enabled: bool, on: torch.device | None = None) -> contextlib.AbstractContextManager:
    """bf16 autocast on the given device when enabled, else a no-op context."""
    kind = (on or device()).type
    if not enabled or kind not in ("cpu", "cuda", "mps", "xpu"):  # others (meta) have no autocast: fp32
        return contextlib.nullcontext()
    return torch.autocast(kind, dtype=torch.bfloat16)


@functools.lru_cache(maxsize=1)
def inference_bf16() -> bool:
    """Whether the samplers run their ε-networks in bf16: use_bf16("auto") once per process (env GENMODELS_BF16
    decides when set). benchmarks/precision.py measures what it costs in sample quality and gains in speed."""
    return use_bf16("auto")


def inference_autocast() -> contextlib.AbstractContextManager:
    """bf16 autocast where inference_bf16() chose it, for pictures that are only shown (a sample grid): on this
    CPU it halves a GAN's or StyleGAN's 16-image grid (benchmarks/precision.py). Outputs may be bf16: .float()."""
    return autocast(inference_bf16())


def in_precision(network: Callable[..., torch.Tensor], bf16: bool) -> Callable[..., torch.Tensor]:
    """`network` called under bf16 autocast with its output back in fp32 (the sampler's arithmetic stays fp32);
    `network` itself when bf16 is False."""
    if not bf16:
        return network

    def call(*args, **kwargs) -> torch.Tensor:
        with autocast(True):
            out = network(*args, **kwargs)
        return out.float()

    return call


class ModelCache:
    """Load each model once, on first use, even when several requests ask at the same moment.

    Failures are not cached: a checkpoint rebuilt while the app runs loads on the next request.
    """

    def __init__(self) -> None:
        self._models: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, loader: Callable[[], T]) -> T:
        if key in self._models:
            return self._models[key]  # type: ignore[return-value]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._models:
                self._models[key] = loader()
            return self._models[key]  # type: ignore[return-value]

    def clear(self) -> None:
        with self._guard:
            self._models.clear()


MODELS = ModelCache()


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse instead of handing each large one back to the system.

    A sampler step allocates and frees activations of a few MB; past glibc's default thresholds each is a fresh
    mmap whose pages fault in again on every step (measured: DDIM 50 x 16 in 3.4-4.7 s, with this 2.6-3.4 s).
    The process keeps its peak instead, which serving wants anyway. False where the C library has no mallopt."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 256 * 2**20)) and bool(libc.mallopt(m_trim_threshold, 2**30))


def release_freed_memory() -> bool:
    """Hand the memory that malloc keeps freed back to the system now (glibc's malloc_trim): after a crowd's
    sessions are let go, so that the process shrinks back (keep_freed_memory otherwise keeps its peak). False where
    the C library has no malloc_trim."""
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def compute_threads() -> int:
    """Intra-op threads for the compute worker's jobs: every core but one, which stays free for the server's own
    work (decoding requests, encoding and sending pictures); env GENMODELS_THREADS overrides.

    Measured served on 2 cores: text-to-image (4 images, DDIM 50) 1.9 s with one thread, 2.9 s with two (its
    small latents are bound by per-op overhead, and a second OpenMP thread waits at every barrier while the
    server's threads hold a core); the class's light calls, p95 0.43 s with one thread, 0.49 s with two."""
    value = os.environ.get("GENMODELS_THREADS")
    return max(1, int(value)) if value else max(1, (os.cpu_count() or 1) - 1)


_WORKERS: weakref.WeakSet = weakref.WeakSet()  # every ComputeWorker, for a forked child to forget their threads


def _forget_threads_after_fork() -> None:
    for worker in list(_WORKERS):
        worker._forget_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)


class ComputeWorker:
    """One thread that runs all model work of a served app, most urgent first.

    Why one thread: torch's OpenMP pool belongs to the thread that calls it. Handlers that run on the server's many
    worker threads each bring a pool of their own, and on 2 cores those pools spin against each other and against
    the server's own work (measured: a DDIM run twice as slow served as in-process). On one thread the pool is
    always the same, and what waits is ordered: a light call (one picture, a grid) goes before the next step of a
    long run, so a class's light calls never queue behind a sampler, and several long runs take turns step by step.
    """

    LIGHT, LONG_RUN, BACKGROUND = 0, 1, 2  # priorities: lower goes first; equal ones in arrival order

    def __init__(self, name: str = "compute", nice: int = 0) -> None:
        """`nice`: how much lower than the process's the thread's CPU priority is (Linux only, where a thread has
        its own): a thread whose work can wait (rendering frames) leaves the cores to the one that cannot."""
        self.name = name
        self.nice = nice
        self._order = itertools.count()
        self._forget_thread()
        _WORKERS.add(self)

    def _forget_thread(self) -> None:
        """No thread yet, nothing queued. Also what a forked child starts from (os.register_at_fork, above): a fork
        copies the worker's state but not its thread (ZeroGPU runs each call in a forked process), and jobs queued
        for a thread that is not there would wait forever."""
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def on_worker(self) -> bool:
        return threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the worker thread now (else the first job starts it). A served app starts it before its server's
        threads: glibc's malloc gives a new thread an arena, reusing one a finished thread left when it can, and a
        worker started after the server shared its arena with the server's short-lived threads; its tensors then
        fragmented it and RSS grew 1.6 -> 2.5 GB in 4 minutes of a classroom load (measured; started first: flat)."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        default_threads = compute_threads()
        if self.nice and sys.platform.startswith("linux"):  # elsewhere a thread id is no process id to renice
            thread = threading.get_native_id()
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + self.nice))
        while True:
            _, _, function, threads, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                # torch's thread setting (OpenMP's: per thread; a thread that starts later takes the last value
                # set): set for the job, then given back, so that code outside the worker (a test, a benchmark, a
                # recipe) keeps its own setting. About 0.1 ms each.
                process_threads = torch.get_num_threads()
                torch.set_num_threads(threads or default_threads)
                try:
                    future.set_result(function())
                except BaseException as error:  # handed to the caller, raised there
                    future.set_exception(error)
                finally:
                    torch.set_num_threads(process_threads)

    def submit(
        self, function: Callable[[], T], priority: int = LIGHT, threads: int | None = None
    ) -> concurrent.futures.Future:
        """Queue function() for the worker, to run with `threads` intra-op threads (None: compute_threads()) in
        the caller's context variables (a web framework's request context goes along); the future holds its result."""
        self.start()
        future: concurrent.futures.Future = concurrent.futures.Future()
        context = contextvars.copy_context()
        self._jobs.put((priority, next(self._order), lambda: context.run(function), threads, future))
        return future

    def run(self, function: Callable[[], T], priority: int = LIGHT, threads: int | None = None) -> T:
        """Run function() on the worker and wait for its result (inline when already on the worker)."""
        if self.on_worker():
            return function()
        return self.submit(function, priority, threads).result()

    def iterate(
        self, items: Iterable[T], priority: int = LONG_RUN, threads: int | None = None, ahead: int = 1
    ) -> Iterator[T]:
        """Advance an iterator on the worker one item per job, so that other jobs can go in between its items, and
        up to `ahead` items ahead of the caller: while the caller handles an item (a server encoding and sending a
        frame, or holding it back, see `spaced`), the worker goes on computing the next ones. One job of the
        iterator is queued at a time, the next when it ends: two runs still take turns item by item. Closing this
        generator (a stopped run) drops what was computed ahead and closes the iterator on the worker. Every item
        is computed in the caller's context variables as they were when this started (submit's promise, though
        the jobs after the first are queued from the worker)."""
        iterator = iter(items)
        done = object()
        ahead = max(1, ahead)
        context = contextvars.copy_context()
        ready: collections.deque = collections.deque()  # jobs ended, in order, not yet handed to the caller
        state = {"running": None, "over": False}  # the job in the queue or running; whether to queue no more
        changed = threading.Condition(threading.RLock())  # RLock: a job that ended calls back at once

        def queue_next() -> None:  # called holding `changed`
            if state["running"] is None and not state["over"] and len(ready) < ahead:
                job = self.submit(lambda: context.run(next, iterator, done), priority, threads)
                state["running"] = job
                job.add_done_callback(ended)

        def ended(job: concurrent.futures.Future) -> None:
            with changed:
                if job.cancelled():
                    return
                state["running"] = None
                ready.append(job)
                try:
                    if job.exception() is not None or job.result() is done:
                        state["over"] = True
                    queue_next()
                finally:
                    changed.notify()

        try:
            while True:
                with changed:
                    queue_next()
                    while not ready:
                        changed.wait()
                    job = ready.popleft()
                    queue_next()
                item = job.result()
                if item is done:
                    return
                yield item
        finally:
            with changed:
                state["over"] = True
                if state["running"] is not None:
                    state["running"].cancel()
            close = getattr(iterator, "close", None)
            if close is not None:  # after the job running now: the worker runs one job at a time, in order
                self.run(close, priority)


def spaced(items: Iterable[T], seconds: float) -> Iterator[T]:
    """Hand items on at least `seconds` apart (counted from one hand-off to the next: the time the caller spends
    on an item counts), waiting in the caller's thread: a stream's frames at a pace a viewer can follow, however
    fast they are computed. Closing this generator (a stopped run) closes `items`."""
    last = None
    try:
        for item in items:
            if last is not None:
                time.sleep(max(0.0, last + seconds - time.perf_counter()))
            last = time.perf_counter()
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


COMPUTE = ComputeWorker()


def on_zero_gpu() -> bool:
    """True on a ZeroGPU Space: its environment variable is set and its `spaces` package is there."""
    if not os.environ.get("SPACES_ZERO_GPU"):
        return False
    try:
        import spaces  # noqa: F401  (only present on Hugging Face Spaces)
    except ImportError:
        return False
    return True


def gpu(function: Callable[..., T], seconds: int = 60) -> Callable[..., T]:
    """`spaces.GPU(duration=seconds)` on a ZeroGPU Space (it lends a GPU for each call, for at most `seconds`; a
    shorter duration gets a visitor a GPU sooner); `function` itself everywhere else."""
    if not on_zero_gpu():
        return function
    import spaces

    return spaces.GPU(duration=seconds)(function)


def generator(seed: int, on: torch.device | None = None) -> torch.Generator:
    """A per-request RNG: requests never touch the global RNG, so concurrent users do not disturb each other."""
    return torch.Generator(device=on or "cpu").manual_seed(int(seed))
