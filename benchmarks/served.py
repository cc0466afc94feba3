"""Calls to a served app the way the browser makes them: one session per user, `queue/join` then the session's
event stream (Gradio's sse_v3 protocol), timed from the request to the final message."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class CallResult:
    milliseconds: float
    frames: int  # streamed updates before the final one
    success: bool
    message: str  # the error's text when not successful
    busy: bool = False  # turned away at once because the server's queue for it was full (HTTP 503)
    frame_gaps_ms: tuple[float, ...] = ()  # between the streamed updates, as they arrived


def endpoint_ids(config: dict) -> dict[str, int]:
    """api_name -> the event's id, from the app's /config."""
    return {dep["api_name"]: dep["id"] for dep in config["dependencies"] if dep.get("api_name")}


def new_session() -> str:
    return uuid.uuid4().hex[:12]


def _final(message: dict, started: float, arrivals: list[float]) -> CallResult:
    output = message.get("output") or {}
    error = output.get("error") or message.get("title") or ""
    gaps = tuple(round((b - a) * 1000, 1) for a, b in itertools.pairwise(arrivals))
    return CallResult(
        (time.perf_counter() - started) * 1000, len(arrivals), bool(message.get("success")), str(error), False, gaps
    )


class EventReader:
    """Reads one event's messages from its session's stream: counts streamed frames, keeps the final message."""

    def __init__(self, api_name: str, ids: dict[str, int], session: str, data: list) -> None:
        self.join_body = {
            "data": data,
            "fn_index": ids[api_name],
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        }
        self.started = time.perf_counter()
        self.event_id: str | None = None
        self.arrivals: list[float] = []  # when each streamed update came

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def refused(self, text: str, status_code: int | None = None) -> CallResult:
        return CallResult(self.elapsed_ms(), len(self.arrivals), False, text[:300], busy=status_code == 503)

    def read(self, line: str) -> CallResult | None:
        """One line of the stream -> the call's result when it is this event's last message, else None."""
        if not line.startswith("data:"):
            return None
        message = json.loads(line[5:])
        if message.get("event_id") != self.event_id:
            return None
        if message["msg"] == "process_generating":
            self.arrivals.append(time.perf_counter())
        elif message["msg"] == "process_completed":
            return _final(message, self.started, self.arrivals)
        return None


def _is_local_file(value) -> bool:
    """gradio_client's handle_file(path) for a file on this machine."""
    return (
        isinstance(value, dict)
        and value.get("meta", {}).get("_type") == "gradio.FileData"
        and not str(value.get("path", "")).startswith(("http://", "https://"))
    )


class SyncSession:
    """One user of the app in a thread: calls one event at a time, as a student clicking would."""

    def __init__(self, url: str, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=600)
        self.ids = endpoint_ids(self.client.get(f"{self.url}/config").json())
        self.session = new_session()

    def upload(self, path: str) -> dict:
        """A local file -> the FileData the server expects for an image input (the browser uploads it first)."""
        with open(path, "rb") as file:
            response = self.client.post(f"{self.url}/gradio_api/upload", files={"files": file})
        response.raise_for_status()
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, data: list) -> CallResult:
        data = [self.upload(value["path"]) if _is_local_file(value) else value for value in data]
        reader = EventReader(api_name, self.ids, self.session, data)
        joined = self.client.post(f"{self.url}/gradio_api/queue/join", json=reader.join_body)
        if joined.status_code != 200:
            return reader.refused(joined.text, joined.status_code)
        reader.event_id = joined.json()["event_id"]
        with self.client.stream(
            "GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session}
        ) as stream:
            for line in stream.iter_lines():
                if result := reader.read(line):
                    return result
        return reader.refused("the stream ended early")


class AsyncSession:
    """The same, for many simulated users in one event loop (a thread each would load the machine itself)."""

    def __init__(self, url: str, client: httpx.AsyncClient, ids: dict[str, int]) -> None:
        self.url, self.client, self.ids = url.rstrip("/"), client, ids
        self.session = new_session()

    async def call(self, api_name: str, data: list) -> CallResult:
        reader = EventReader(api_name, self.ids, self.session, data)
        try:
            joined = await self.client.post(f"{self.url}/gradio_api/queue/join", json=reader.join_body)
            if joined.status_code != 200:
                return reader.refused(joined.text, joined.status_code)
            reader.event_id = joined.json()["event_id"]
            async with self.client.stream(
                "GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session}
            ) as stream:
                async for line in stream.aiter_lines():
                    if result := reader.read(line):
                        return result
        except httpx.HTTPError as error:
            return reader.refused(f"{type(error).__name__}: {error}")
        return reader.refused("the stream ended early")
