"""Memory per session: a crowd of one-call visitors, then a pause past the session time-to-live.

`python -m benchmarks.sessions [--sessions 1000] [--ttl 20]` serves the app (`python app.py`, its session
time-to-live set to --ttl seconds through GENMODELS_SESSION_TTL_S), waits for its warm-up, and reads its RSS
(warm). Then --sessions calls, each from a new session as a new visitor's page makes it (the classroom's light calls,
and every tenth a two-step diffusion run, which keeps a replay in its session's state), 4 at a time, and reads the
RSS again (crowd); then waits past the time-to-live and reads it once more (after). "Warm" is read after the same
calls from one session, so that it holds what serving them costs whatever the number of sessions. The time-to-live
(default 60 s) is longer than the crowd takes, so that no session is let go before the crowd's RSS is read. Prints and returns the three,
the growth per session, and after / warm. Loopback only, bounded in calls and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import httpx

from benchmarks.classroom import check_loopback, light_calls
from benchmarks.served import AsyncSession, endpoint_ids
from benchmarks.timing import ServedApp, rss_mb

MAX_SESSIONS = 5_000
CONCURRENT = 4  # at most 2 sampler runs running and 2 waiting: none is turned away as busy
REPLAY_CALL = ("diffusion_sample", [0, "DDIM", 2, 1])  # cheap, and it stores a replay in the session's state


async def _visitors(url: str, sessions: int, one_session: bool = False) -> tuple[int, list[str]]:
    """`sessions` calls, each from a new session (or all from one); returns the number that succeeded and the
    first errors."""
    rng = random.Random(0)
    errors: list[str] = []
    done = 0
    calls = [REPLAY_CALL if index % 10 == 0 else light_calls(rng) for index in range(sessions)]
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as client:
        ids = endpoint_ids((await client.get(f"{url.rstrip('/')}/config")).json())
        pending = iter(calls)
        shared = AsyncSession(url, client, ids)

        async def worker() -> None:
            nonlocal done
            for api_name, data in pending:
                session = shared if one_session else AsyncSession(url, client, ids)
                result = await session.call(api_name, list(data))
                if result.success:
                    done += 1
                elif len(errors) < 5:
                    errors.append(f"{api_name}: {result.message}")

        # one session's events share its one event stream: its calls go one at a time
        await asyncio.gather(*(worker() for _ in range(1 if one_session else CONCURRENT)))
    return done, errors


def measure_sessions(url: str, pid: int, sessions: int, pause_s: float) -> dict:
    """RSS warm, after `sessions` one-call sessions, and after `pause_s` more seconds."""
    check_loopback(url)
    if not 1 <= sessions <= MAX_SESSIONS:
        raise ValueError(f"sessions in 1..{MAX_SESSIONS}")
    asyncio.run(_visitors(url, sessions, one_session=True))
    warm = rss_mb(pid)
    started = time.perf_counter()
    succeeded, errors = asyncio.run(_visitors(url, sessions))
    crowd_s = time.perf_counter() - started
    crowd = rss_mb(pid)
    time.sleep(pause_s)
    after = rss_mb(pid)
    return {
        "sessions": sessions,
        "succeeded": succeeded,
        "errors": errors,
        "crowd_seconds": round(crowd_s, 1),
        "pause_seconds": pause_s,
        "rss_warm_mb": warm,
        "rss_crowd_mb": crowd,
        "rss_after_mb": after,
        "kb_per_session": round(1024 * (crowd - warm) / sessions, 1),
        "after_over_warm": round(after / warm, 3),
    }


def run(sessions: int = 1000, ttl_s: float = 60.0) -> dict:
    """Serve the app with a session time-to-live of `ttl_s` and measure it (see the module's docstring)."""
    served = ServedApp(env={"GENMODELS_SESSION_TTL_S": str(ttl_s)})
    try:
        served.warm_up_seconds()
        return measure_sessions(served.url, served.process.pid, sessions, pause_s=ttl_s + 15)
    finally:
        served.close()


def markdown(result: dict) -> str:
    return (
        f"Sessions: {result['sessions']:,} visitors of one call each ({result['succeeded']:,} succeeded) added "
        f"**{result['kb_per_session']} KB a session** to the server (RSS {result['rss_warm_mb']} → "
        f"{result['rss_crowd_mb']} MB); {result['pause_seconds']:.0f} s later, past the session time-to-live, "
        f"RSS {result['rss_after_mb']} MB: **{result['after_over_warm']} × the warm level**."
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sessions")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--ttl", type=float, default=60.0, help="the served app's session time-to-live, seconds")
    args = parser.parse_args()
    result = run(args.sessions, args.ttl)
    print(json.dumps(result, indent=1))
    print(markdown(result))


if __name__ == "__main__":
    main()
