"""A classroom on one server: simulated students, each with their own session, calling light endpoints with a
pause of 1-3 s between calls; a share of calls are heavy (a sampler run). Loopback only, bounded in students and
time, stops by itself.

`python -m benchmarks.classroom --url http://127.0.0.1:7860 --students 60 --seconds 60 --heavy 0.1`
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx
import numpy as np

from benchmarks.served import AsyncSession, CallResult, endpoint_ids
from benchmarks.timing import rss_mb

MAX_STUDENTS = 200
MAX_SECONDS = 900


def light_calls(rng: random.Random) -> tuple[str, list]:
    """What a student clicks most: a decode, the divergence numbers, a 16-image grid of a GAN, StyleGAN, cGAN or VAE."""
    seed = rng.randrange(1000)
    return rng.choice(
        [
            ("vae_decode", [2, f"{rng.uniform(-2, 2):.2f}, {rng.uniform(-2, 2):.2f}"]),
            ("divergence", [f"{rng.uniform(0.1, 1):.2f}, 0.48, 0.16", "0.333, 0.333, 0.333"]),
            ("gan_sample", [seed, 16]),
            ("stylegan_sample", [seed, 16, 0.7]),
            ("cgan_sample", ["Sneaker", seed, 16]),
            ("vae_sample", [20, seed, 16, 1.0]),
        ]
    )


def heavy_calls(rng: random.Random) -> tuple[str, list]:
    seed = rng.randrange(1000)
    return rng.choice(
        [
            ("text_to_image", ["a photo of a bag", 4.0, 50, seed, 4, "DDIM"]),
            ("diffusion_sample", [seed, "DDIM", 50, 8]),
        ]
    )


@dataclass
class Record:
    kind: str  # "light" or "heavy"
    api_name: str
    result: CallResult


@dataclass
class LoadReport:
    students: int
    seconds: float
    heavy_share: float
    records: list[Record] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, server RSS)

    def percentile(self, kind: str, q: float) -> float | None:
        times = [r.result.milliseconds for r in self.records if r.kind == kind and r.result.success]
        return round(float(np.percentile(times, q)) / 1000, 2) if times else None

    def summary(self) -> dict:
        errors = [r for r in self.records if not r.result.success and not r.result.busy]
        busy = [r for r in self.records if r.result.busy]
        light = [r for r in self.records if r.kind == "light"]
        summary = {
            "students": self.students,
            "seconds": self.seconds,
            "heavy_share": self.heavy_share,
            "calls": len(self.records),
            "light_calls_per_s": round(len(light) / self.seconds, 1),
            "light_p50_s": self.percentile("light", 50),
            "light_p95_s": self.percentile("light", 95),
            "heavy_p50_s": self.percentile("heavy", 50),
            "heavy_p95_s": self.percentile("heavy", 95),
            "turned_away_light": sum(r.kind == "light" for r in busy),
            "turned_away_heavy": sum(r.kind == "heavy" for r in busy),
            "errors": len(errors),
            "error_examples": sorted({r.result.message[:120] for r in errors})[:5],
        }
        if self.rss_mb:
            summary |= {
                "rss_start_mb": self.rss_mb[0][1],
                "rss_end_mb": self.rss_mb[-1][1],
                "rss_max_mb": max(rss for _, rss in self.rss_mb),
            }
        return summary


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"the classroom load only targets this machine (loopback), not {host!r}")


def minimal_app_calls(rng: random.Random) -> tuple[str, list]:
    """The floor's one endpoint (benchmarks/minimal_app.py): a 16-image grid."""
    return "grid", [rng.randrange(1000), 16]


async def _student(
    index: int,
    url: str,
    client: httpx.AsyncClient,
    ids: dict[str, int],
    deadline: float,
    heavy_share: float,
    light: Callable,
    report: LoadReport,
) -> None:
    rng = random.Random(index)
    session = AsyncSession(url, client, ids)
    await asyncio.sleep(rng.uniform(0, 3))  # students do not all click in the same instant
    while time.perf_counter() < deadline:
        kind = "heavy" if rng.random() < heavy_share else "light"
        api_name, data = heavy_calls(rng) if kind == "heavy" else light(rng)
        result = await session.call(api_name, data)
        report.records.append(Record(kind, api_name, result))
        await asyncio.sleep(rng.uniform(1, 3))


async def _sample_rss(pid: int | None, started: float, deadline: float, report: LoadReport) -> None:
    while pid is not None and time.perf_counter() < deadline:
        report.rss_mb.append((round(time.perf_counter() - started, 1), rss_mb(pid)))
        await asyncio.sleep(1.0)


async def _run(
    url: str, students: int, seconds: float, heavy_share: float, server_pid: int | None, light: Callable
) -> LoadReport:
    report = LoadReport(students, seconds, heavy_share)
    limits = httpx.Limits(max_connections=4 * students, max_keepalive_connections=2 * students)
    async with httpx.AsyncClient(timeout=httpx.Timeout(300.0), limits=limits) as client:
        ids = endpoint_ids((await client.get(f"{url.rstrip('/')}/config")).json())
        started = time.perf_counter()
        deadline = started + seconds
        tasks = [_student(i, url, client, ids, deadline, heavy_share, light, report) for i in range(students)]
        await asyncio.gather(_sample_rss(server_pid, started, deadline, report), *tasks)
    return report


def run_classroom(
    url: str,
    students: int = 60,
    seconds: float = 60,
    heavy_share: float = 0.1,
    server_pid: int | None = None,
    light: Callable = light_calls,
) -> LoadReport:
    """Bounded: at most MAX_STUDENTS for MAX_SECONDS (plus the last calls' own time), on loopback only."""
    check_loopback(url)
    if not 1 <= students <= MAX_STUDENTS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"students in 1..{MAX_STUDENTS}, seconds in (0, {MAX_SECONDS}]")
    return asyncio.run(_run(url, students, seconds, heavy_share, server_pid, light))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classroom")
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--heavy", type=float, default=0.1, help="share of calls that run a sampler")
    parser.add_argument("--pid", type=int, default=None, help="the server's process id, to sample its RSS")
    args = parser.parse_args()
    report = run_classroom(args.url, args.students, args.seconds, args.heavy, args.pid)
    for key, value in report.summary().items():
        print(f"{key}: {value}")
    by_name: dict[str, list[float]] = {}
    for record in report.records:
        by_name.setdefault(record.api_name, []).append(record.result.milliseconds)
    for name, times in sorted(by_name.items()):
        print(
            f"  {name}: n={len(times)} p50 {np.percentile(times, 50) / 1000:.2f} s, "
            f"p95 {np.percentile(times, 95) / 1000:.2f} s"
        )


if __name__ == "__main__":
    main()
