"""Hostile input: every value refused where it enters, in one sentence naming the control (demos.intake), picture
files checked before they are opened (core.images.check_picture_file), and every named endpoint over raw HTTP."""

from __future__ import annotations

import json
import math

import gradio as gr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from benchmarks import hostile
from core.divergence import parse_distribution
from core.images import MAX_PICTURE_PIXELS, PictureFileError, check_picture_file
from demos import intake

# What a JSON body can carry, NaN and infinities included (Python's json reads them).
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=60),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


def assert_one_sentence(error: Exception, label: str) -> None:
    text = str(error)
    assert f'"{label}"' in text, text
    assert "\n" not in text and len(text) < 400, text
    assert not hostile.INTERNAL_SIGNS.search(text), text


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_a_whole_number_control_gives_a_whole_number_in_range_or_one_sentence(value):
    seed = gr.Number(label="Seed of z_T", precision=0, minimum=0, maximum=2**31 - 1)
    try:
        number = intake.check_number(seed, value)
    except intake.InputError as error:
        assert_one_sentence(error, "Seed of z_T")
        return
    assert type(number) is int and 0 <= number <= 2**31 - 1
    assert number == float(value)  # read exactly: never rounded


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_a_slider_gives_a_finite_number_in_range_or_one_sentence(value):
    guidance = gr.Slider(0, 15, step=0.5, label="Guidance scale w")
    try:
        number = intake.check_number(guidance, value)
    except intake.InputError as error:
        assert_one_sentence(error, "Guidance scale w")
        return
    assert isinstance(number, float) and math.isfinite(number) and 0 <= number <= 15


@pytest.mark.parametrize("value", [2.7, "2.7", True, math.nan, "NaN", math.inf, "", None, "--5", "²", "1" * 5000])
def test_a_whole_number_control_refuses_what_is_not_one(value):
    steps = gr.Slider(1, 16, step=1, label="Images")
    with pytest.raises(intake.InputError) as refused:
        intake.check_number(steps, value)
    assert_one_sentence(refused.value, "Images")


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_a_choice_is_one_of_the_choices_or_one_sentence(value):
    steps = gr.Dropdown([1, 2, 5, 50, 1000], value=50, label="DDIM steps (divisors of 1,000)")
    try:
        choice = intake.check_choice(steps, value)
    except intake.InputError as error:
        assert_one_sentence(error, "DDIM steps")
        return
    assert choice in (1, 2, 5, 50, 1000) and type(choice) is int


@pytest.mark.fast
def test_a_choice_is_also_accepted_in_the_text_form_the_api_description_lists():
    steps = gr.Dropdown([1, 2, 5, 50, 1000], value=50, label="DDIM steps")
    assert intake.check_choice(steps, "50") == 50 and type(intake.check_choice(steps, "50")) is int
    model = gr.Radio([("2-D", 2), ("20-D", 20)], value=20, label="Model")
    with pytest.raises(intake.InputError):
        intake.check_choice(model, 2.7)  # not silently the 2-D model
    with pytest.raises(intake.InputError):
        intake.check_choice(model, "2-D")  # the names are for the page; the API takes the values


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_a_text_box_gives_bounded_text_or_one_sentence(value):
    prompt = gr.Textbox(label="Prompt")
    try:
        text = intake.check_text(prompt, value)
    except intake.InputError as error:
        assert_one_sentence(error, "Prompt")
        return
    assert isinstance(text, str) and len(text) <= intake.MAX_TEXT_CHARS


@pytest.mark.fast
def test_overlong_text_is_refused_with_its_length():
    with pytest.raises(intake.InputError, match="at most 2,000 characters, not 100,000"):
        intake.check_text(gr.Textbox(label="Prompt"), "x" * 100_000)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_an_image_input_takes_only_a_file_reference(value):
    image = gr.Image(label="Input image: upload, or pick one below")
    try:
        intake.check_image(image, value)
    except intake.InputError as error:
        assert_one_sentence(error, "Input image")
        return
    assert value is None or isinstance(value.get("path"), str) or str(value.get("url", "")).startswith("data:")


@pytest.mark.fast
def test_a_web_address_is_refused_without_fetching_it():
    image = gr.Image(label="x_0")
    for value in ({"url": "http://example.com/a.png"}, {"path": "https://example.com/a.png"}):
        with pytest.raises(intake.InputError, match="does not fetch pictures from web addresses"):
            intake.check_image(image, value)


@pytest.mark.parametrize(
    "name, sentence",
    [
        ("truncated.png", "damaged or cut short"),
        ("text.png", "not a picture"),
        ("empty.png", "the file is empty"),
        ("bomb.png", "megapixels"),
        ("drawing.svg", "SVG drawings cannot be read"),
    ],
)
def test_bad_picture_files_are_refused_before_gradio_opens_them(name, sentence):
    with pytest.raises(PictureFileError, match=sentence):
        check_picture_file(hostile.hostile_files()[name], name)


def test_a_refused_file_is_named_by_its_control_with_what_to_do():
    with pytest.raises(
        intake.InputError, match='"x_0": the file is empty. Upload a PNG, JPEG, GIF, WebP or BMP picture.'
    ):
        intake.checked_picture(gr.Image(label="x_0"), b"")


def test_good_picture_files_pass_and_an_animation_counts_its_frames():
    files = hostile.hostile_files()
    assert check_picture_file(files["animated.gif"]) == 3
    for name in ("cmyk.jpg", "sixteen_bit.png", "one_pixel.png", "strip.png", "transparent.png"):
        assert check_picture_file(files[name], name) == 1


@pytest.mark.fast
def test_a_phone_photo_with_a_second_picture_is_a_photo_and_other_formats_are_refused():
    import io

    photo, depth = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (40, 30), "grey")
    mpo, tiff = io.BytesIO(), io.BytesIO()
    photo.save(mpo, format="MPO", save_all=True, append_images=[depth])
    photo.save(tiff, format="TIFF")
    assert Image.open(io.BytesIO(mpo.getvalue())).n_frames == 2
    assert check_picture_file(mpo.getvalue(), "photo.jpg") == 1  # not "an animation of 2 frames"
    with pytest.raises(PictureFileError, match=r"not a picture in a format read here \(PNG, JPEG, GIF, WebP or BMP\)"):
        check_picture_file(tiff.getvalue(), "scan.tiff")


@pytest.mark.fast
def test_the_pixel_bound_is_checked_before_decoding(tmp_path):
    side = math.isqrt(MAX_PICTURE_PIXELS) + 1
    path = tmp_path / "big.png"
    Image.new("1", (side, side)).save(path)
    with pytest.raises(PictureFileError, match=f"{side:,} × {side:,} pixels"):
        check_picture_file(path)


@pytest.mark.fast
def test_huge_probabilities_are_normalised_without_overflow():
    p = parse_distribution("1e308, 1e308, 1e308")
    assert p.probabilities.tolist() == pytest.approx([1 / 3] * 3) and p.was_normalised


# --- every named endpoint, served ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_outcomes(server_url):
    return hostile.run(server_url)


def test_every_hostile_call_gets_a_sentence_or_a_result(hostile_outcomes, server_url):
    endpoints = hostile.RawApi(server_url).endpoints()
    assert {outcome.endpoint for outcome in hostile_outcomes} == set(endpoints)
    assert len(hostile_outcomes) > 1000
    internal = [
        f"{o.endpoint} {o.parameter}={o.value}: {o.text[:120]}"
        for o in hostile_outcomes
        if o.kind not in ("message", "result")
    ]
    assert not internal, "\n".join(internal[:20])


def test_extra_values_are_refused_not_silently_dropped(hostile_outcomes):
    extra = [outcome for outcome in hostile_outcomes if outcome.value == "too many values"]
    assert len(extra) == len({outcome.endpoint for outcome in hostile_outcomes})
    assert all(outcome.kind == "message" and "This call takes" in outcome.text for outcome in extra), extra[:3]


def test_the_documented_text_form_of_a_choice_runs(server_url):
    api = hostile.RawApi(server_url)
    kind, text = api.call("/diffusion_sample", [0, "DDIM", "2", 1])
    assert kind == "result", text


def test_refusals_name_the_control_over_http(server_url):
    api = hostile.RawApi(server_url)
    kind, text = api.call("/vae_sample", [2.7, 0, 4, 1.0])
    assert kind == "message" and text.startswith('"Model" must be one of 2, 5, 20'), text
    kind, text = api.call("/divergence", ["1e308, 1e308, 1e308", "1, 1, 1"])
    assert kind == "result" and json.loads(text)[0]["data"][3][1] == 0.0, text  # KL(p‖q) = 0: p is uniform
