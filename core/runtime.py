"""Runtime: device choice, bf16 autocast choice, a lazy thread-safe model cache, and the ZeroGPU shim."""
from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=1)
def bf16_is_faster_on_cpu() -> bool:
    """Time a 512x512 matmul in fp32 and bf16 once: True on CPUs with bf16 matrix units (AMX, AVX512-BF16)."""
    a, b = torch.randn(512, 512), torch.randn(512, 512)

    def best_of(x: torch.Tensor, y: torch.Tensor) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(4):
                x @ y
            times.append(time.perf_counter() - start)
        return min(times)

    try:
        return best_of(a.bfloat16(), b.bfloat16()) < 0.8 * best_of(a, b)
    except RuntimeError:
        return False


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
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast((on or device()).type, dtype=torch.bfloat16)


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


def gpu(function: Callable[..., T]) -> Callable[..., T]:
    """`spaces.GPU` on a ZeroGPU Space (it lends a GPU per call); a no-op everywhere else."""
    if os.environ.get("SPACES_ZERO_GPU"):
        try:
            import spaces  # only present on Hugging Face Spaces

            return spaces.GPU(function)
        except ImportError:
            pass
    return function


def generator(seed: int, on: torch.device | None = None) -> torch.Generator:
    """A per-request RNG: requests never touch the global RNG, so concurrent users do not disturb each other."""
    return torch.Generator(device=on or "cpu").manual_seed(int(seed))
