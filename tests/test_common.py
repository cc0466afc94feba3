"""Shared UI helpers: argument checks for values that arrive through the API, and error translation."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from core.images import EmptyImageError, PictureFileError, to_model_input
from demos.checks import bounded_float, bounded_int, valid_seed
from demos.common import drawing_image
from demos.errors import friendly_errors
from tests.conftest import rgba_drawing

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("value, expected", [(3, 3), (3.0, 3), ("7", 7), (0, 0)])
def test_bounded_int_accepts_whole_numbers(value, expected):
    assert bounded_int(value, "n", 0, 10) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        (float("inf"), "whole number"),
        (float("nan"), "whole number"),
        (2.7, "whole number"),
        (True, "whole number"),
        ("x", "whole number"),
        (None, "whole number"),
        (11, "between 0 and 10"),
        (-1, "between 0 and 10"),
    ],
)
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


def test_a_sketchpad_value_gives_its_drawing_and_any_other_image_passes():
    drawing = rgba_drawing(strokes=[(50, 50, 200, 80)])
    assert drawing_image({"background": None, "layers": [drawing], "composite": drawing}) is drawing
    assert to_model_input(drawing_image({"background": drawing, "layers": [], "composite": None})).max() > 0.9
    assert drawing_image(drawing) is drawing
    with pytest.raises(EmptyImageError, match="drawing is empty"):
        drawing_image({"background": None, "layers": [], "composite": None})


def test_core_says_what_is_wrong_with_an_image_and_the_page_adds_what_to_do():
    @friendly_errors
    def reads(image):
        return to_model_input(image)

    with pytest.raises(gr.Error, match="single flat colour: it shows no object. Pick an example, upload"):
        reads(np.zeros((28, 28), np.uint8))

    @friendly_errors
    def refuses_the_file():
        raise PictureFileError("the picture file is damaged or cut short.", "damaged")

    with pytest.raises(gr.Error, match="damaged or cut short. Save it again or pick another."):
        refuses_the_file()
