"""Timing helpers: percentiles of repeated calls, peak RSS, and a served app in a subprocess."""

from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Latency:
    name: str
    p50_ms: float
    p95_ms: float
    calls: int
    target_p95_ms: float | None = None

    @classmethod
    def from_times(cls, name: str, times_ms: list[float], target_p95_ms: float | None = None) -> Latency:
        return cls(
            name,
            round(float(np.percentile(times_ms, 50)), 1),
            round(float(np.percentile(times_ms, 95)), 1),
            len(times_ms),
            target_p95_ms,
        )

    @property
    def meets_target(self) -> bool | None:
        return None if self.target_p95_ms is None else self.p95_ms <= self.target_p95_ms


def measure(
    name: str, call: Callable[[], object], calls: int = 30, warmup: int = 3, target_p95_ms: float | None = None
) -> Latency:
    for _ in range(warmup):  # first calls load models and fill caches: that is cold start, measured apart
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return Latency.from_times(name, times, target_p95_ms)


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} for process {pid}")


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, or of this one."""
    if pid is None:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of a process now."""
    return _status_mb(pid, "VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Left out of the served app's environment unless `env` names it: the app is measured as a plain shell starts it.
# OMP_WAIT_POLICY=PASSIVE (handy for tests) made the pixel DDPM's two-thread run 20-25% slower served (DDIM 50 x 16:
# 2.0-2.4 s with OpenMP's default, 2.5-3.1 s passive; heavy p95 of a classroom 11.4-12.9 s vs 12.4-15.2 s).
NOT_INHERITED = ("OMP_WAIT_POLICY",)


class ServedApp:
    """`python app.py` in a subprocess; `cold_start_s` is process start to the first served page."""

    def __init__(
        self, timeout_s: float = 120.0, command: tuple[str, ...] = ("app.py",), env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        inherited = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
        env = inherited | (env or {}) | {"GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1"}
        self.started = start = time.perf_counter()  # process start, on perf_counter's clock
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="served-app-")  # noqa: SIM115 (open while the app runs; closed by stop())
        self.process = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if self.process.poll() is not None or time.perf_counter() - start > timeout_s:
                    raise RuntimeError("the app did not start") from None
                time.sleep(0.05)
        self.cold_start_s = round(time.perf_counter() - start, 2)

    def warm_up_seconds(self, timeout_s: float = 300.0) -> float | None:
        """Seconds the app's background warm-up took (from its log line), waiting for it; None if never logged."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            match = re.search(r"warm-up done in ([0-9.]+) s", Path(self.log.name).read_text())
            if match:
                return float(match.group(1))
            time.sleep(0.2)
        return None

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
