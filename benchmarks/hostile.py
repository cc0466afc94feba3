"""Hostile input through Gradio's raw HTTP API: every named endpoint, one parameter hostile at a time.

`python -m benchmarks.hostile` serves the app on a free port, sends every hostile value of HOSTILE (by the
parameter's component) to every parameter of every named endpoint, the other parameters valid and cheap, and sorts
the answers: a clear sentence, a generic or internal message (INTERNAL_SIGNS), or a result. Writes
benchmarks/hostile.json and prints the counts and every internal message. tests/test_hostile.py runs the same
calls and fails on any internal message.

Raw HTTP, not gradio_client: a client checks some values before sending, an attacker does not.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

RESULTS = Path(__file__).with_name("hostile.json")

# Values that make a cheap run of each endpoint (the rest come from the API's defaults).
CHEAP = {
    "/toy_gan_train": {"steps": 50},
    "/diffusion_sample": {"steps": 2, "n": 1},
    "/text_to_image": {"steps": 2, "n": 1},
    "/gan_sample": {"n": 4},
    "/stylegan_sample": {"n": 4},
    "/vae_sample": {"n": 4},
    "/cgan_sample": {"n": 1},
}
ALONGSIDE = {("/toy_gan_train", "drawing"): {"distribution": "drawn"}}  # so that the handler reads the drawing
LONG_TEXT = "x" * 10_000
NUMBERS = [
    "",
    LONG_TEXT,
    "NaN",
    "inf",
    "abc",
    [1],
    {"a": 1},
    None,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1,
    2.7,
    True,
    10**30,
    "²",
    "--5",
]
TEXTS = ["", LONG_TEXT * 10, None, 5, [], {}, "\x00\x01", "²", "🙂" * 50, "1e308, 1e308, 1e308", "-0, nan, 1"]
CHOICES = ["", "nope", None, 5, 2.7, [], {}, LONG_TEXT, math.nan]
IMAGE_VALUES = [
    "",
    LONG_TEXT,
    True,
    [],
    {},
    7,
    {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
    {"path": "../../etc/hosts"},
    {"url": "http://example.com/a.png", "meta": {"_type": "gradio.FileData"}},
    {"path": "http://example.com/a.png"},
]
EDITOR_VALUES = [
    "",
    LONG_TEXT,
    True,
    [],
    7,
    {"background": "x", "layers": 5, "composite": []},
    {"background": None, "layers": [], "composite": {"path": "/etc/passwd"}},
]


BODIES = {  # whole requests, from the valid values: not JSON, data not a list, too few values, too many
    "not JSON": lambda valid: "{data: [1,",
    "data = 5": lambda valid: '{"data": 5}',
    "no data": lambda valid: "{}",
    "data = []": lambda valid: '{"data": []}',
    "too many values": lambda valid: json.dumps({"data": valid + [1, 2]}),
}


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def hostile_files() -> dict[str, bytes]:
    """File name -> bytes: files an image input might be sent."""
    garment = Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8))
    frames = [garment.resize((112, 112)), Image.new("L", (112, 112), 128), Image.new("L", (112, 112), 255)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    cmyk = io.BytesIO()
    Image.new("CMYK", (40, 30), (0, 120, 200, 10)).save(cmyk, format="JPEG")
    return {
        "truncated.png": _png(garment)[:200],
        "text.png": b"this is not a picture\n" * 10,
        "empty.png": b"",
        "bomb.png": _png(Image.new("1", (20_000, 20_000)), optimize=True),
        "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="9" height="9"/></svg>',
        "animated.gif": gif.getvalue(),
        "cmyk.jpg": cmyk.getvalue(),
        "sixteen_bit.png": _png(Image.fromarray((np.arange(28 * 28).reshape(28, 28) * 80).astype(np.uint16))),
        "one_pixel.png": _png(Image.new("RGB", (1, 1), "white")),
        "strip.png": _png(Image.new("L", (5000, 3), 128)),
        "transparent.png": _png(Image.new("RGBA", (28, 28), (0, 0, 0, 0))),
    }


INTERNAL_SIGNS = re.compile(
    r"Traceback|Internal error|Could not preprocess|pydantic|validation error|Original error|Error:|Exception"
    r"|/tmp/|/work/|/root/|site-packages|invalid literal|not supported between|NoneType|object has no attribute"
    r"|is not in the list of choices|cannot convert|\bint\(\)|\bfloat\(\)|Errno|'loc':|'type':",
    re.IGNORECASE,
)


@dataclass
class Outcome:
    endpoint: str
    parameter: str
    value: str  # repr, shortened
    kind: str  # "message", "internal", "result", "no answer"
    text: str  # the message, or a summary of the result
    seconds: float


def classify(message: str | None) -> str:
    if message is None or not message.strip():
        return "internal"  # an error without words
    return "internal" if INTERNAL_SIGNS.search(message) else "message"


def short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


class RawApi:
    """Gradio's HTTP API, called as curl would: POST /gradio_api/call/<name>, then read its event stream."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=120)

    def endpoints(self) -> dict:
        return self.http.get(f"{self.url}/gradio_api/info").json()["named_endpoints"]

    def upload(self, name: str, data: bytes) -> dict:
        answer = self.http.post(f"{self.url}/gradio_api/upload", files={"files": (name, data)})
        answer.raise_for_status()
        return {"path": answer.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def call(self, endpoint: str, data, body: str | None = None) -> tuple[str, str]:
        """(kind, text): 'message' or 'internal' with the error's text, 'result' with the last data. `body`: the
        request's whole text instead of {"data": data}."""
        body = json.dumps({"data": data}, allow_nan=True) if body is None else body
        answer = self.http.post(
            f"{self.url}/gradio_api/call{endpoint}", content=body, headers={"Content-Type": "application/json"}
        )
        if answer.status_code != 200:
            text = answer.text
            with contextlib.suppress(ValueError):
                text = answer.json().get("detail", text)
            return classify(str(text)), f"HTTP {answer.status_code}: {text}"
        event_id = answer.json()["event_id"]
        event, last = None, None
        with self.http.stream("GET", f"{self.url}/gradio_api/call{endpoint}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    last = line.split(":", 1)[1].strip()
                    if event == "error":
                        message = json.loads(last) if last and last != "null" else None
                        if isinstance(message, dict):  # Gradio's error event for a refused request
                            message = message.get("error") or message.get("message") or json.dumps(message)
                        return classify(message), str(message)
                    if event == "complete":
                        return "result", last
        return "no answer", str(last)[:200]


def valid_arguments(endpoint: str, parameters: list[dict], garment: dict) -> list:
    values = []
    for parameter in parameters:
        name = parameter["parameter_name"]
        if name in CHEAP.get(endpoint, {}):
            values.append(CHEAP[endpoint][name])
        elif parameter["component"] == "Image":
            values.append(garment)
        else:
            values.append(parameter.get("parameter_default"))
    return values


def hostile_values(component: str, files: dict[str, dict]) -> list:
    if component in ("Number", "Slider"):
        return NUMBERS
    if component == "Textbox":
        return TEXTS
    if component in ("Radio", "Dropdown"):
        return CHOICES
    if component == "Image":
        return IMAGE_VALUES + list(files.values())
    if component == "Imageeditor":
        return EDITOR_VALUES + [{"background": None, "layers": [], "composite": file} for file in files.values()]
    return [None, "", LONG_TEXT]


def run(url: str, endpoints: list[str] | None = None) -> list[Outcome]:
    api = RawApi(url)
    info = api.endpoints()
    garment = api.upload("garment.png", _png(Image.open(io.BytesIO(hostile_files()["cmyk.jpg"])).convert("L")))
    files = {name: api.upload(name, data) for name, data in hostile_files().items()}
    outcomes = []
    for endpoint, description in info.items():
        if endpoints is not None and endpoint not in endpoints:
            continue
        parameters = description["parameters"]
        valid = valid_arguments(endpoint, parameters, garment)
        for index, parameter in enumerate(parameters):
            for value in hostile_values(parameter["component"], files):
                data = list(valid)
                for name, other in ALONGSIDE.get((endpoint, parameter["parameter_name"]), {}).items():
                    data[[p["parameter_name"] for p in parameters].index(name)] = other
                data[index] = value
                started = time.perf_counter()
                kind, text = api.call(endpoint, data)
                name = value.get("orig_name", short(value)) if isinstance(value, dict) else short(value)
                outcomes.append(
                    Outcome(
                        endpoint,
                        parameter["parameter_name"],
                        name,
                        kind,
                        text[:300],
                        round(time.perf_counter() - started, 3),
                    )
                )
        for name, body in BODIES.items():
            started = time.perf_counter()
            kind, text = api.call(endpoint, None, body(valid))
            outcomes.append(
                Outcome(endpoint, "(request)", name, kind, text[:300], round(time.perf_counter() - started, 3))
            )
    return outcomes


def write_results(counts: dict[str, int], outcomes: list[Outcome]) -> None:
    """hostile.json with one outcome a line: a diff between two runs shows the calls whose answer changed."""
    lines = ",\n".join("  " + json.dumps(asdict(o), ensure_ascii=False) for o in outcomes)
    RESULTS.write_text(f'{{"counts": {json.dumps(counts)},\n "outcomes": [\n{lines}\n]}}\n')


def main() -> None:
    import app as app_module
    from benchmarks.timing import free_port

    server = app_module.build_app()
    port = free_port()
    server.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app_module.launch_options()
    )
    started = time.perf_counter()
    outcomes = run(f"http://127.0.0.1:{port}/")
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
    print(f"{len(outcomes)} calls in {time.perf_counter() - started:.0f} s: {counts}")
    for outcome in outcomes:
        if outcome.kind in ("internal", "no answer"):
            print(f"{outcome.endpoint} {outcome.parameter}={outcome.value}: {outcome.text[:160]}")
    write_results(counts, outcomes)
    server.close()


if __name__ == "__main__":
    main()
