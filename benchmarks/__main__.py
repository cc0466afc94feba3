"""`python -m benchmarks [--calls N]`: prints the table, writes benchmarks/results.json and results.md."""

from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks import autoencoder, classifier, clip, diffusion, divergence, gan, pix2pix, sessions, unpaired, vae
from benchmarks.served_path import RSS_GROWTH_TARGET, measure_served
from benchmarks.timing import peak_rss_mb

OUT = Path(__file__).resolve().parent
TABS = (
    autoencoder,
    divergence,
    vae,
    gan,
    pix2pix,
    unpaired,
    diffusion,
    clip,
)  # each later tab adds its module: handler_latency(calls), api_calls(path), quality()


def _growth(rss: dict[str, float]) -> tuple[str, float]:
    """The last reading's name, and that reading / the reading after warm-up."""
    when, last = list(rss.items())[-1]
    return when, round(last / rss["after warm-up"], 3)


def _rss_growth(served: dict) -> list[str]:
    """The memory soak's RSS past its end against after warm-up (the issue's memory figure), and the main
    sequence's last reading against its warm-up (every phase above on one server: informative)."""
    lines = []
    soak = served.get("memory_soak")
    if soak:
        load, rss = soak["classroom"], soak["server_rss_mb"]
        when, growth = _growth(rss)
        lines += [
            f"Memory soak, a fresh server: 60 students for {load['seconds']:.0f} s at 10% heavy calls "
            f"({load['calls']} calls, {load['errors']} errors; heavy p50 / p95 {load['heavy_p50_s'] or '–'} / "
            f"{load['heavy_p95_s'] or '–'} s, {load.get('turned_away_heavy', 0)} heavy turned away; light p95 "
            f"{load['light_p95_s']} s); RSS "
            + ", ".join(f"{mb} MB {moment}" for moment, mb in rss.items())
            + f", peak {soak['server_peak_rss_mb']} MB. RSS {when} / after warm-up: **{growth}** (target at most "
            f"{RSS_GROWTH_TARGET}: {'meets' if growth <= RSS_GROWTH_TARGET else 'misses'}).",
            "",
        ]
    rss = served.get("server_rss_mb") or {}
    if "after warm-up" in rss and len(rss) >= 2:
        when, growth = _growth(rss)
        lines += [
            f"The main sequence's server (every phase above on one server), RSS {when} / after warm-up: {growth}.",
            "",
        ]
    return lines


def _latency_table(rows: list[dict]) -> list[str]:
    lines = ["| what | p50 ms | p95 ms | target p95 ms | meets |", "|---|---|---|---|---|"]
    for row in rows:
        target = row["target_p95_ms"] if row["target_p95_ms"] is not None else "–"
        meets = {True: "yes", False: "**no**", None: "–"}[row["meets_target"]]
        lines.append(f"| {row['name']} | {row['p50_ms']} | {row['p95_ms']} | {target} | {meets} |")
    return lines


def markdown(results: dict) -> str:
    served = results["served"]
    lines = [
        "## Served (what users wait for)",
        "",
        *_latency_table(served["latency"]),
        "",
        f"Frames streamed per run: {served['frames_per_run']}. Gaps between frames as they reached the client, "
        "median / smallest ms: "
        + "; ".join(
            f"{name} {g['median_ms']} / {g['smallest_ms']}" for name, g in served.get("frame_gaps", {}).items() if g
        )
        + ".",
        "",
        f"Cold start (process start to first page, median of {len(served['cold_starts_s'])}: "
        f"{served['cold_starts_s']}): **{served['cold_start_s']} s** (target 5 s: "
        f"{'meets' if served['cold_start_meets_target'] else 'misses'}); to the landing tab's result in "
        f"Chromium, the page opened as soon as served: {served['landing_result_s']} s; background warm-up (torch "
        f"and every model loaded, every tab's opening view computed) done **{served['warm_up_s']} s** after the "
        f"page; server peak RSS {served['server_peak_rss_mb']} MB; its RSS "
        + ", ".join(f"{mb} MB {when}" for when, mb in served.get("server_rss_mb", {}).items())
        + ".",
        "",
        *_rss_growth(served),
    ]
    if served["classroom"]:
        lines += [
            "| classroom (simulated students, 1-3 s between calls) | calls | light/s | light p50 s | light p95 s "
            "| heavy p50 s | heavy p95 s | heavy turned away (busy) | errors | server RSS start → end MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, c in served["classroom"].items():
            lines.append(
                f"| {name}: {c['students']} for {c['seconds']:.0f} s | {c['calls']} | {c['light_calls_per_s']} | "
                f"{c['light_p50_s']} | {c['light_p95_s']} | {c['heavy_p50_s'] or '–'} | "
                f"{c['heavy_p95_s'] or '–'} | {c.get('turned_away_heavy', 0)} | {c['errors']} | {c.get('rss_start_mb')} → {c.get('rss_end_mb')} |"
            )
        lines.append("")
    if served.get("sessions"):
        lines += [sessions.markdown(served["sessions"]), ""]
    if not results["latency"]:  # a --served-only run with no earlier full run to keep figures from
        lines += ["## In process (the handler alone)", "", "Not measured: run `python -m benchmarks` in full.", ""]
    else:
        lines += [
            "## In process (the handler alone)",
            "",
            f"Measured {results['in_process_date']}.",
            "",
            *_latency_table(results["latency"]),
            "",
            f"Peak RSS of the benchmark process {results['peak_rss_mb']} MB.",
            "",
            "| checkpoint | metric | value |",
            "|---|---|---|",
        ]
        for name, metrics in results["quality"].items():
            for key, value in metrics.items():
                lines.append(f"| {name} | {key} | {value} |")
    lines += ["", f"Served figures measured {results['date']} on {results['machine']} ({results['threads']} threads)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per handler (after 3 warm-up calls)")
    parser.add_argument("--runs", type=int, default=5, help="timed sampler runs, through HTTP and in the browser")
    parser.add_argument(
        "--classroom-seconds", type=float, default=60.0, help="length of each classroom load run (0 skips them)"
    )
    parser.add_argument(
        "--soak-seconds", type=float, default=300.0, help="length of the classroom memory soak (0 skips it)"
    )
    parser.add_argument(
        "--sessions", type=int, default=1000, help="one-call sessions for the memory-per-session run (0 skips it)"
    )
    parser.add_argument("--served-only", action="store_true", help="skip the in-process latency and quality")
    args = parser.parse_args()
    served = measure_served(TABS, max(5, args.calls // 2), args.runs, args.classroom_seconds, args.soak_seconds)
    served["sessions"] = sessions.run(args.sessions) if args.sessions else None
    served["latency"] = [row.__dict__ | {"meets_target": row.meets_target} for row in served["latency"]]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if args.served_only:  # the in-process figures of the last full run stay, with their own date
        previous = json.loads((OUT / "results.json").read_text()) if (OUT / "results.json").exists() else {}
        in_process = {key: previous.get(key) for key in ("latency", "peak_rss_mb", "quality")}
        in_process["in_process_date"] = previous.get("in_process_date") or previous.get("date")
        if not previous.get("latency"):  # never measured: nothing to keep, and no date to give it
            in_process = {"latency": None, "peak_rss_mb": None, "quality": None, "in_process_date": None}
    else:
        quality = {}
        for module in (classifier, *TABS):
            quality |= module.quality()
        latency = [row for tab in TABS for row in tab.handler_latency(args.calls)]
        in_process = {
            "latency": [row.__dict__ | {"meets_target": row.meets_target} for row in latency],
            "peak_rss_mb": peak_rss_mb(),
            "quality": quality,
            "in_process_date": now,
        }
    results = {
        "date": now,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "threads": torch.get_num_threads(),
        "served": served,
        **in_process,
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (OUT / "results.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
