"""`python -m benchmarks`: the served path first (every endpoint through HTTP as the browser calls it, the samplers
clicked in headless Chromium, a classroom load beside a minimal Gradio app), then every tab's handlers in process,
peak memory, cold start, and each checkpoint's quality metrics. Writes benchmarks/results.json and results.md."""
