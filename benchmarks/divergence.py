"""Entropy & KL tab: pure arithmetic, measured so that a regression shows."""

from benchmarks.timing import Latency, measure
from demos import divergence as tab


def handler_latency(calls: int) -> list[Latency]:
    return [measure("divergence", lambda: tab.divergence(tab.LECTURE_P, tab.LECTURE_Q), calls, target_p95_ms=200.0)]


def api_calls(image_path: str) -> dict[str, tuple]:
    return {"/divergence": (tab.LECTURE_P, tab.LECTURE_Q)}


def quality() -> dict[str, dict]:
    return {}
