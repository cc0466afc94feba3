"""Shared UI helpers: argument checks for values that arrive through the API, and error translation."""
from __future__ import annotations

import gradio as gr
import pytest

from demos.common import bounded_float, bounded_int, friendly_errors, valid_seed

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("value, expected", [(3, 3), (3.0, 3), ("7", 7), (0, 0)])
def test_bounded_int_accepts_whole_numbers(value, expected):
    assert bounded_int(value, "n", 0, 10) == expected


@pytest.mark.parametrize("value, message", [
    (float("inf"), "whole number"), (float("nan"), "whole number"), (2.7, "whole number"), (True, "whole number"),
    ("x", "whole number"), (None, "whole number"), (11, "between 0 and 10"), (-1, "between 0 and 10"),
])
def test_bounded_int_rejects_the_rest(value, message):
    with pytest.raises(ValueError, match=message):
        bounded_int(value, "n", 0, 10)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "x", None, 1.5])
def test_bounded_float_rejects_nan_infinity_text_and_range(value):
    with pytest.raises(ValueError):
        bounded_float(value, "x", 0.0, 1.0)


def test_seeds_are_non_negative_31_bit_integers():
    assert valid_seed(2**31 - 1) == 2**31 - 1
    with pytest.raises(ValueError, match="seed"):
        valid_seed(2**31)


def test_friendly_errors_wraps_plain_and_streaming_handlers():
    @friendly_errors
    def plain(x):
        raise ValueError("bad x")

    @friendly_errors
    def streaming(x):
        yield 1
        raise ValueError("bad stream")

    @friendly_errors
    def buggy():
        raise KeyError("oops")

    with pytest.raises(gr.Error, match="bad x"):
        plain(1)
    stream = streaming(1)
    assert next(stream) == 1
    with pytest.raises(gr.Error, match="bad stream"):
        next(stream)
    with pytest.raises(gr.Error, match="Internal error"):
        buggy()
