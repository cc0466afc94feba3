"""Every value a handler gets, checked where it enters the server: one sentence naming the control and what it
accepts, for the browser, gradio_client and raw HTTP alike.

Gradio runs its own preprocessing before a handler sees a value, and a value it cannot handle fails there with an
internal message (a pydantic report, "Could not preprocess input component at index 3 … Original error: TypeError",
a temporary path). So the checks sit in front of it, in Blocks.preprocess_data (installed once, by
demos.serving.configure_gradio), by the component and its settings:

- Number and Slider: a finite number (a numeric string too), within the control's minimum and maximum; a whole
  number where the control takes whole numbers (precision 0, or a slider stepping by whole numbers): 2.7 is refused,
  not rounded. True is not a number.
- Radio and Dropdown: one of the choices, or its text form ("50" for 50: the API description lists choices as text).
- Textbox: text (a number becomes its text), at most MAX_TEXT_CHARS characters.
- Image and the sketchpad: an uploaded file's reference; then the file itself, before Gradio opens it
  (core.images.check_picture_file: empty, not a picture, SVG, damaged, too many pixels). Of an animation the first
  frame is used, and the page says so (a drawing must be still).
Whatever still fails in Gradio's preprocessing gets a sentence naming the control; the details go to the log.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import logging
import math
import re
from typing import Any

import gradio as gr

from core.images import PICTURE_FORMS, PictureFileError, check_picture_file

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2_000  # a text box's default bound (a box's own max_length wins): prompts and lists are far shorter
MAX_CHOICES_NAMED = 8  # a refusal names this many choices, then says how many more there are
TITLE = "Cannot do that"


class InputError(gr.Error):
    """A value refused where it entered, in one sentence."""

    def __init__(self, message: str):
        super().__init__(message, title=TITLE)


def shown(value: Any, limit: int = 40) -> str:
    """A value as a refusal quotes it: short, whatever was sent."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters as text"
    return f"{text[:limit]}… ({size})"


def label_of(block) -> str:
    """The control's name as a refusal quotes it: its label up to an explanation ("DDIM steps (divisors of
    1,000)" -> "DDIM steps", "k: D steps per G step" -> "k"), in quotes."""
    label = str(getattr(block, "label", None) or type(block).__name__)
    name = re.split(r":\s| \(", label, maxsplit=1)[0].rstrip("?").strip() or label
    return f'"{name}"'


def _bound(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _takes_whole_numbers(block) -> bool:
    if isinstance(block, gr.Slider):
        return float(block.step).is_integer() and float(block.minimum).is_integer()
    return getattr(block, "precision", None) == 0


def check_number(block, value: Any) -> int | float:
    whole = _takes_whole_numbers(block)
    low, high = getattr(block, "minimum", None), getattr(block, "maximum", None)
    kind = "a whole number" if whole else "a number"
    if low is not None and high is not None:
        kind += f" from {_bound(low)} to {_bound(high)}"
    if value is None or value == "":
        raise InputError(f"{label_of(block)} is empty: give {kind}.")
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and len(value) <= 40:
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if number is None or not math.isfinite(number) or (whole and not float(number).is_integer()):
        raise InputError(f"{label_of(block)} must be {kind}, not {shown(value)}.")
    if (low is not None and number < low) or (high is not None and number > high):
        raise InputError(f"{label_of(block)} must be {kind}, not {shown(value)}.")
    return int(number) if whole else float(number)


def check_choice(block, value: Any):
    values = [choice for _, choice in block.choices]
    if getattr(block, "multiselect", False) or getattr(block, "allow_custom_value", False):
        return value  # none in this app; Gradio's own checks apply
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        for choice in values:
            if type(value) is type(choice) and value == choice:
                return choice
        for choice in values:  # the API description lists every choice as text
            if isinstance(value, str) and value.strip() == str(choice):
                return choice
            if isinstance(value, (int, float)) and isinstance(choice, (int, float)) and value == choice:
                return choice
    named = ", ".join(str(choice) for choice in values[:MAX_CHOICES_NAMED])
    if len(values) > MAX_CHOICES_NAMED:
        named += f" (and {len(values) - MAX_CHOICES_NAMED} more)"
    if value is None or value == "":
        raise InputError(f"{label_of(block)} is empty: choose one of {named}.")
    raise InputError(f"{label_of(block)} must be one of {named}, not {shown(value)}.")


def check_text(block, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InputError(f"{label_of(block)} must be text, not {shown(value)}.")
    limit = getattr(block, "max_length", None) or MAX_TEXT_CHARS
    if len(value) > limit:
        raise InputError(f"{label_of(block)} is too long: at most {limit:,} characters, not {len(value):,}.")
    return value


FILE_FORM = "a picture uploaded to the server (in gradio_client: handle_file(path))"


def check_file_reference(block, value: Any, part: str = "") -> None:
    """An image input's value is a reference to a file uploaded first: {"path": …} (a data: URL also works)."""
    where = f"{label_of(block)}{part}"
    if not isinstance(value, dict):
        raise InputError(f"{where} must be {FILE_FORM}, not {shown(value)}.")
    path, url = value.get("path"), value.get("url")
    if isinstance(url, str) and url.startswith("data:"):
        return
    if isinstance(path, str) and re.match(r"^[a-z][a-z0-9+.-]*://", path.strip(), re.IGNORECASE):
        path = None
        url = value["path"]
    if not isinstance(path, str) or not path.strip():
        if isinstance(url, str) and url:
            raise InputError(f"{where}: this server does not fetch pictures from web addresses; upload the file.")
        raise InputError(f"{where} must be {FILE_FORM}, not {shown(value)}.")


def check_image(block, value: Any):
    if value is not None:
        check_file_reference(block, value)
    return value


def check_drawing(block, value: Any):
    """A sketchpad's value: {"background": file or None, "layers": [file, …], "composite": file or None}."""
    if value is None:
        return value
    if not isinstance(value, dict):
        raise InputError(f"{label_of(block)} must be a drawing (background, layers, composite), not {shown(value)}.")
    if value.get("id") is not None and not isinstance(value["id"], str):
        raise InputError(f"{label_of(block)}: the drawing's id must be text, not {shown(value['id'])}.")
    for part in ("background", "composite"):
        if value.get(part) is not None:
            check_file_reference(block, value[part], f" ({part})")
    layers = value.get("layers") or []
    if not isinstance(layers, list):
        raise InputError(f"{label_of(block)}: the drawing's layers must be a list of pictures, not {shown(layers)}.")
    for layer in layers:
        check_file_reference(block, layer, " (a layer)")
    return value


CHECKS = (  # (component class, check): the first that matches; ImageEditor covers gr.Sketchpad
    (gr.Slider, check_number),
    (gr.Number, check_number),
    (gr.Radio, check_choice),
    (gr.Dropdown, check_choice),
    (gr.Textbox, check_text),
    (gr.Image, check_image),
    (gr.ImageEditor, check_drawing),
)


def check_value(block, value: Any):
    for component, check in CHECKS:
        if isinstance(block, component):
            return check(block, value)
    return value


# --- the picture files themselves ------------------------------------------------------------------------------


def _picture_source(file) -> Any:
    """What check_picture_file reads for a Gradio file value: its path, or the bytes of a data: URL."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file)
    url = getattr(file, "url", None)
    if isinstance(url, str) and url.startswith("data:"):
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=False)
        except (IndexError, binascii.Error, ValueError):
            return b""
    return getattr(file, "path", None)


ANIMATION_NOTE = "genmodels_note"  # PIL info key: what the page should be told about this picture


PICTURE_ADVICE = {  # core says what is wrong with a picture file (PictureFileError.problem); this, what to do
    "unreadable": "Upload it again.",
    "empty": f"Upload a {PICTURE_FORMS} picture.",
    "svg": f"Export it as a {PICTURE_FORMS} picture.",
    "too_large": "Upload a smaller picture.",
    "not_a_picture": f"Upload a {PICTURE_FORMS} picture.",
    "damaged": "Save it again or pick another.",
}


def picture_advice(error: PictureFileError) -> str:
    """The refusal of a picture file for the page: what is wrong, then what to do about it."""
    return f"{error} {PICTURE_ADVICE.get(error.problem, '')}".rstrip()


def checked_picture(block, file) -> int:
    """Refuse a file that is not a readable picture, in a sentence; return its number of frames."""
    source = _picture_source(file)
    if source is None:
        raise InputError(f"{label_of(block)} must be {FILE_FORM}.")
    try:
        return check_picture_file(source, getattr(file, "orig_name", None))
    except PictureFileError as error:
        raise InputError(f"{label_of(block)}: {picture_advice(error)}") from None


def notes(values) -> list[str]:
    """What the page should be told about a handler's input pictures (demos.errors.friendly_errors says it: only
    there, inside the event, does gr.Warning reach the page)."""
    return [
        value.info[ANIMATION_NOTE]
        for value in values
        if hasattr(value, "info") and isinstance(value.info, dict) and ANIMATION_NOTE in value.info
    ]


# --- installed in front of Gradio's preprocessing ---------------------------------------------------------------


def install() -> None:
    """Check every input in front of Gradio's preprocessing (see the module's docstring). Idempotent."""
    from gradio import blocks
    from gradio.components import image_editor
    from gradio.exceptions import InvalidPathError

    if getattr(blocks.Blocks, "_checked_inputs", False):
        return
    gradio_preprocess = blocks.Blocks.preprocess_data

    async def preprocess_data(self, block_fn, inputs, state, explicit_call: bool = False):
        expected = block_fn.inputs
        if len(inputs) != len(expected):  # extra values were silently dropped: a caller's mistake goes unseen
            names = ", ".join(label_of(block) for block in expected)
            takes = f"{len(expected)} value{'s' if len(expected) > 1 else ''} ({names})" if expected else "no values"
            raise InputError(f"This call takes {takes}, not {len(inputs)}.")
        inputs = list(inputs)
        for index, block in enumerate(expected):
            if not block.stateful and index not in block_fn.component_prop_inputs:
                # the session's copy, as Gradio's preprocessing uses it: a handler may have changed its settings
                # (the replay slider's maximum follows the run)
                session_block = state[block._id] if state is not None and block._id in state else block
                inputs[index] = check_value(session_block, inputs[index])
        try:
            return await gradio_preprocess(self, block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except InvalidPathError as error:  # a path on the server that was never uploaded: say which input
            block = next(
                (
                    block
                    for block, value in zip(expected, inputs)
                    if isinstance(value, dict) and str(value.get("path")) in str(error)
                ),
                None,
            )
            where = label_of(block) if block is not None else "A file"
            raise InputError(
                f"{where} names a file that was not uploaded to this server; upload it first "
                "(in gradio_client: handle_file(path))."
            ) from None
        except Exception as error:
            block = _failing_block(error, expected)
            log.warning("input refused by Gradio's preprocessing (%s)", block_fn.name, exc_info=True)
            where = label_of(block) if block is not None else "An input"
            raise InputError(f"{where} could not be read: check its value against the API description.") from None

    blocks.Blocks.preprocess_data = preprocess_data
    blocks.Blocks._checked_inputs = True
    gr.Image.preprocess = _check_files_first_image(gr.Image.preprocess)
    image_editor.ImageEditor.convert_and_format_image = _check_editor_file(
        image_editor.ImageEditor.convert_and_format_image
    )


def _failing_block(error: Exception, expected: list):
    """The input Gradio's preprocessing failed on: its message names the index, or a pydantic report names the
    component's data model."""
    found = re.search(r"input component at index (\d+)", str(error))
    if found and int(found.group(1)) < len(expected):
        return expected[int(found.group(1))]
    title = getattr(error, "title", None)  # pydantic.ValidationError: the model, e.g. "EditorData"
    models = [block for block in expected if getattr(getattr(block, "data_model", None), "__name__", None) == title]
    return models[0] if len(models) == 1 else None


REQUEST_FORM = (
    'The request must be JSON of the form {"data": [...]}, one value per input, in the order the API '
    "description (/gradio_api/info) lists them."
)


async def refuse_malformed_request(request, error):
    """FastAPI's answer to a request body it cannot read, in a sentence (its own is a pydantic report)."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"detail": REQUEST_FORM, "error": REQUEST_FORM}, status_code=422)


def app_options() -> dict:
    """launch(app_kwargs=…): the served app's answer to malformed requests."""
    from fastapi.exceptions import RequestValidationError

    return {"exception_handlers": {RequestValidationError: refuse_malformed_request}}


def _check_files_first_image(method):
    @functools.wraps(method)
    def preprocess(self, payload):
        frames = checked_picture(self, payload) if payload is not None else 1
        image = method(self, payload)
        if frames > 1 and hasattr(image, "info"):  # PIL opens an animation at its first frame
            image.info[ANIMATION_NOTE] = f"{label_of(self)} is an animation of {frames} frames: its first is used."
        return image

    return preprocess


def _check_editor_file(method):
    @functools.wraps(method)
    def convert_and_format_image(self, file, *args, **kwargs):
        if file is not None and checked_picture(self, file) > 1:
            raise InputError(f"{label_of(self)}: a drawing is a still picture, not an animation.")
        return method(self, file, *args, **kwargs)

    return convert_and_format_image
