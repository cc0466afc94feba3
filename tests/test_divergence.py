from __future__ import annotations

import math

import gradio as gr
import numpy as np
import pytest

from core import divergence as dv
from demos import divergence as tab

pytestmark = pytest.mark.fast

P, Q = np.array([0.36, 0.48, 0.16]), np.full(3, 1 / 3)


def test_the_lectures_example():
    assert dv.kl_divergence(P, Q) == pytest.approx(0.0853, abs=5e-5)
    assert dv.kl_divergence(Q, P) == pytest.approx(0.0975, abs=5e-5)


def test_kl_is_cross_entropy_minus_entropy():
    assert dv.kl_divergence(P, Q) == pytest.approx(dv.cross_entropy(P, Q) - dv.entropy(P))


def test_kl_is_non_negative_and_zero_only_for_equal_distributions():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        assert dv.kl_divergence(p, q) > 0
        assert dv.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
        js = dv.js_divergence(p, q)
        assert 0 < js <= math.log(2) and js == pytest.approx(dv.js_divergence(q, p))


def test_entropy_of_uniform_is_log_k_and_information_is_minus_log():
    assert dv.entropy(np.full(4, 0.25)) == pytest.approx(math.log(4))
    assert dv.information(np.array([0.5, 0.0]))[0] == pytest.approx(math.log(2))
    assert math.isinf(dv.information(np.array([0.5, 0.0]))[1])


def test_zero_probabilities():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.25, 0.25])
    assert math.isfinite(dv.kl_divergence(p, q))  # 0 log 0 = 0
    assert math.isinf(dv.kl_divergence(q, p))  # q > 0 where p = 0
    assert dv.js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(math.log(2))


def test_parsing_normalises_and_says_so():
    d = dv.parse_distribution("1, 1; 2")
    assert np.allclose(d.probabilities, [0.25, 0.25, 0.5]) and d.was_normalised
    assert not dv.parse_distribution([0.2, 0.8]).was_normalised


@pytest.mark.parametrize(
    "values,message",
    [
        ("", "empty"),
        ("0.5, -0.5, 1", "negative"),
        ("0, 0", "sums to 0"),
        ("a, b", "numbers separated"),
        ("nan, 1", "finite"),
        ([0.1] * 100, "at most"),
        ("inf", "finite"),
    ],
)
def test_bad_distributions_are_clear_errors(values, message):
    with pytest.raises(dv.DistributionError, match=message):
        dv.parse_distribution(values)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(dv.DistributionError, match="same outcomes"):
        dv.compare("0.5, 0.5", "0.2, 0.3, 0.5")


def test_handler_opens_on_the_lecture_numbers():
    numbers, per_outcome, bars, kl_bars, note = tab.divergence(tab.LECTURE_P, tab.LECTURE_Q)
    values = dict(numbers)
    assert values["KL(p‖q)"] == 0.0853 and values["KL(q‖p)"] == 0.0975
    assert len(per_outcome) == 3 and len(bars) == 6 and len(kl_bars) == 6
    assert "Not symmetric" in note and "q did not sum to 1" in note


def test_handler_shows_infinite_kl_as_text_not_a_crash():
    numbers, _, _, kl_bars, note = tab.divergence("0.5, 0.3, 0.2", "0.6, 0.4, 0")
    assert dict(numbers)["KL(p‖q)"] == "∞" and "infinite" in note
    assert kl_bars["term"].isna().sum() == 1


@pytest.mark.parametrize("p", ["", "-1, 2", "x"])
def test_handler_bad_input_is_a_message(p):
    with pytest.raises(gr.Error):
        tab.divergence(p, "0.5, 0.5")


def test_every_preset_computes():
    for p, q in tab.PRESETS.values():
        tab.divergence(p, q)
