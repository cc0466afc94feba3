"""Information, entropy, KL and JS divergence of discrete distributions, in nats (natural log, as the lecture).

    I(x)      = -log p(x)
    H(p)      = -sum_x p(x) log p(x)
    H(p, q)   = -sum_x p(x) log q(x)                 (cross-entropy)
    KL(p||q)  =  sum_x p(x) log(p(x) / q(x)) = H(p, q) - H(p) >= 0
    JS(p, q)  =  1/2 KL(p||m) + 1/2 KL(q||m),  m = (p + q) / 2   (symmetric, at most log 2)

Terms with p(x) = 0 contribute 0 (0 log 0 = 0); KL(p||q) is infinite where p(x) > 0 and q(x) = 0.
"""

import math
from dataclasses import dataclass

import numpy as np

MAX_OUTCOMES = 64  # a bar chart, not a data set
NORMALISE_TOLERANCE = 1e-6


class DistributionError(ValueError):
    """The numbers given cannot be read as a probability distribution."""


@dataclass(frozen=True)
class Distribution:
    probabilities: np.ndarray  # (K,) non-negative, sums to 1
    was_normalised: bool  # True when the input did not sum to 1 and was divided by its sum


def parse_distribution(values, name: str = "p") -> Distribution:
    """Read numbers (a list, an array, or text like "0.36, 0.48, 0.16") as a distribution.

    Negative, non-finite or missing entries are errors; a non-zero total other than 1 is normalised, and said so.
    """
    if isinstance(values, str):
        parts = [part for part in values.replace(";", ",").replace(" ", ",").split(",") if part.strip()]
        try:
            numbers = np.array([float(part) for part in parts], dtype=np.float64)
        except ValueError:
            raise DistributionError(f"{name}: write numbers separated by commas, e.g. 0.36, 0.48, 0.16.") from None
    else:
        try:
            numbers = np.asarray(values, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise DistributionError(f"{name}: expected a list of numbers.") from None
    if numbers.size == 0:
        raise DistributionError(f"{name} is empty: give at least one probability.")
    if numbers.size > MAX_OUTCOMES:
        raise DistributionError(f"{name} has {numbers.size} outcomes; at most {MAX_OUTCOMES} are shown.")
    if not np.isfinite(numbers).all():
        raise DistributionError(f"{name} holds a value that is not a finite number.")
    if (numbers < 0).any():
        raise DistributionError(f"{name} holds a negative value ({numbers.min():g}): probabilities are never negative.")
    largest = numbers.max()
    if largest <= 0:
        raise DistributionError(f"{name} sums to 0: at least one outcome needs a positive probability.")
    total = numbers.sum() if largest < 1e300 else math.inf  # 1e308 + 1e308 overflows: scale by the largest first
    normalised = abs(total - 1.0) > NORMALISE_TOLERANCE
    scaled = numbers / largest
    return Distribution(scaled / scaled.sum(), normalised)


def information(p: np.ndarray) -> np.ndarray:
    """I(x) = -log p(x) per outcome, in nats (infinite for p(x) = 0: an impossible event)."""
    with np.errstate(divide="ignore"):
        return -np.log(p)


def entropy(p: np.ndarray) -> float:
    """H(p) = -sum p log p, the expected information."""
    nonzero = p > 0
    return float(-(p[nonzero] * np.log(p[nonzero])).sum())


def cross_entropy(p: np.ndarray, q: np.ndarray) -> float:
    """H(p, q) = -sum p log q (infinite where p > 0 and q = 0)."""
    nonzero = p > 0
    if (q[nonzero] == 0).any():
        return math.inf
    return float(-(p[nonzero] * np.log(q[nonzero])).sum())


def kl_terms(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-outcome terms p(x) log(p(x)/q(x)); they can be negative, their sum cannot."""
    terms = np.zeros_like(p)
    nonzero = p > 0
    with np.errstate(divide="ignore"):
        terms[nonzero] = p[nonzero] * (np.log(p[nonzero]) - np.log(q[nonzero]))
    return terms


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p||q) = sum p log(p / q) >= 0, zero only when p = q; not symmetric."""
    return float(kl_terms(p, q).sum())


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JS(p, q) = 1/2 KL(p||m) + 1/2 KL(q||m), m = (p + q)/2: symmetric, finite, at most log 2."""
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


@dataclass(frozen=True)
class Comparison:
    p: Distribution
    q: Distribution
    entropy_p: float
    entropy_q: float
    cross_entropy_pq: float
    kl_pq: float
    kl_qp: float
    js: float


def compare(p_values, q_values) -> Comparison:
    """Everything the lecture's background slides compute for two distributions over the same outcomes."""
    p, q = parse_distribution(p_values, "p"), parse_distribution(q_values, "q")
    if p.probabilities.size != q.probabilities.size:
        raise DistributionError(
            f"p has {p.probabilities.size} outcomes and q has {q.probabilities.size}: both must list the same outcomes."
        )
    pp, qq = p.probabilities, q.probabilities
    return Comparison(
        p,
        q,
        entropy(pp),
        entropy(qq),
        cross_entropy(pp, qq),
        kl_divergence(pp, qq),
        kl_divergence(qq, pp),
        js_divergence(pp, qq),
    )
