"""`python -m benchmarks [--calls N]`: prints the table, writes benchmarks/results.json and results.md."""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from PIL import Image

from benchmarks import autoencoder, classifier, clip, diffusion, divergence, gan, pix2pix, unpaired, vae
from benchmarks.timing import ServedApp, measure, peak_rss_mb
from core.data import load_sample

OUT = Path(__file__).resolve().parent
TABS = (autoencoder, divergence, vae, gan, pix2pix, unpaired, diffusion, clip)  # each later tab adds its module: handler_latency(calls), api_calls(path), quality()


def end_to_end(calls: int) -> tuple[list, float, float]:
    from gradio_client import Client

    served = ServedApp()
    try:
        # A browser fetches output images in parallel; gradio_client downloads them one by one. Both are shown.
        clients = {"HTTP, outputs as URLs": Client(served.url, verbose=False, download_files=False),
                   "HTTP, outputs downloaded": Client(served.url, verbose=False)}
        with tempfile.TemporaryDirectory() as folder:
            path = str(Path(folder) / "garment.png")
            Image.fromarray(load_sample().images[3]).save(path)
            rows = []
            for tab in TABS:
                for api_name, args in tab.api_calls(path).items():
                    for how, client in clients.items():
                        rows.append(measure(f"{api_name} ({how})",
                                            lambda: client.predict(*args, api_name=api_name), calls))
        return rows, served.cold_start_s, served.peak_rss_mb()
    finally:
        served.close()


def markdown(results: dict) -> str:
    lines = ["| handler | p50 ms | p95 ms | target p95 ms | meets |", "|---|---|---|---|---|"]
    for row in results["latency"]:
        target = row["target_p95_ms"] if row["target_p95_ms"] is not None else "–"
        meets = {True: "yes", False: "**no**", None: "–"}[row["meets_target"]]
        lines.append(f"| {row['name']} | {row['p50_ms']} | {row['p95_ms']} | {target} | {meets} |")
    lines += ["", f"Cold start (process start to first page): **{results['cold_start_s']} s**; "
              f"peak RSS: server {results['server_peak_rss_mb']} MB, benchmark process {results['peak_rss_mb']} MB.", "",
              "| checkpoint | metric | value |", "|---|---|---|"]
    for name, metrics in results["quality"].items():
        for key, value in metrics.items():
            lines.append(f"| {name} | {key} | {value} |")
    lines += ["", f"Measured {results['date']} on {results['machine']} ({results['threads']} threads)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per handler (after 3 warm-up calls)")
    args = parser.parse_args()
    latency = [row for tab in TABS for row in tab.handler_latency(args.calls)]
    http_rows, cold_start, server_rss = end_to_end(max(5, args.calls // 2))
    quality = {}
    for module in (classifier, *TABS):
        quality |= module.quality()
    results = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "threads": torch.get_num_threads(),
        "latency": [row.__dict__ | {"meets_target": row.meets_target} for row in latency + http_rows],
        "cold_start_s": cold_start,
        "server_peak_rss_mb": server_rss,
        "peak_rss_mb": peak_rss_mb(),
        "quality": quality,
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (OUT / "results.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
