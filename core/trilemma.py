"""The generative learning trilemma (Xiao et al. 2022, "Tackling the Generative Learning Trilemma with Denoising
Diffusion GANs"): a family of generative models can have high-quality samples, mode coverage (diversity) and fast
sampling, but so far not all three. GANs sample fast and sharp but drop modes; VAEs sample fast and cover the data
but blur; diffusion models are sharp and cover the data but take many network calls.

Here each family is measured on the same data (Fashion-MNIST) with the same yardsticks:

    quality   FD of 1,000 samples to the test set in the evaluation classifier's features (lower is better)
    coverage  the smallest share any of the ten classes has among the samples (0.1 when all are equal)
    speed     milliseconds per generated image on this machine

and each axis becomes a score from 0 (the worst family compared) to 1 (the best), so that a family can be placed in
the triangle whose corners are the three goals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CORNERS = {"quality": (0.5, math.sqrt(3) / 2), "coverage": (0.0, 0.0), "speed": (1.0, 0.0)}  # an equilateral triangle


@dataclass(frozen=True)
class FamilyFigures:
    """One family's numbers: FD and coverage from its card, speed measured here."""

    family: str
    fd: float
    min_class_share: float
    ms_per_image: float
    training_minutes: float | None = None
    negative_elbo_nats: float | None = None  # a bound on −log p(x): only the VAE has one


FLOOR = 0.05  # the worst family's score: a point with three zero weights would have no place in the triangle


@dataclass(frozen=True)
class Scores:
    """Each axis from FLOOR (the worst family compared) to 1 (the best), linear in between: in −FD for quality, in
    the rarest class's share for coverage, in −log(ms per image) for speed (ten times faster counts the same
    anywhere on the scale)."""

    quality: float
    coverage: float
    speed: float


def _spread(values: list[float]) -> list[float]:
    """Values -> FLOOR .. 1, the largest at 1 (all equal: all 1)."""
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return [1.0] * len(values)
    return [FLOOR + (1 - FLOOR) * (v - low) / (high - low) for v in values]


def scores(figures: Sequence[FamilyFigures]) -> dict[str, Scores]:
    """The three scores of each family among `figures`."""
    quality = _spread([-f.fd for f in figures])
    coverage = _spread([f.min_class_share for f in figures])
    speed = _spread([-math.log10(max(f.ms_per_image, 1e-9)) for f in figures])
    return {f.family: Scores(q, c, s) for f, q, c, s in zip(figures, quality, coverage, speed)}


def triangle_point(score: Scores) -> tuple[float, float]:
    """Barycentric placement: the scores weight the triangle's corners. A family strong on two goals sits on the
    edge between them, one strong on one goal near its corner, one equally good (or poor) at all in the middle."""
    weights = {"quality": score.quality, "coverage": score.coverage, "speed": score.speed}
    total = sum(weights.values()) or 1.0
    x = sum(w * CORNERS[axis][0] for axis, w in weights.items()) / total
    y = sum(w * CORNERS[axis][1] for axis, w in weights.items()) / total
    return x, y


@dataclass(frozen=True)
class Claims:
    """The comparisons the lecture's closing slide makes, computed from the figures."""

    sharpest: FamilyFigures  # lowest FD
    widest_coverage: FamilyFigures  # largest smallest-class share
    fastest: FamilyFigures  # fewest ms per image
    slowest: FamilyFigures
    all_three: FamilyFigures | None  # a family best on every axis (None: the trilemma holds here)


def claims(figures: Sequence[FamilyFigures]) -> Claims:
    sharpest = min(figures, key=lambda f: f.fd)
    widest = max(figures, key=lambda f: f.min_class_share)
    fastest = min(figures, key=lambda f: f.ms_per_image)
    return Claims(
        sharpest=sharpest,
        widest_coverage=widest,
        fastest=fastest,
        slowest=max(figures, key=lambda f: f.ms_per_image),
        all_three=sharpest if sharpest is widest is fastest else None,
    )
