"""`python -m benchmarks`: latency of every tab's handlers (in process and through gradio_client), peak memory,
cold start, and each checkpoint's quality metrics. Writes benchmarks/results.json and benchmarks/results.md."""
