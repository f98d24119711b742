"""Benchmarks; run each as a script: `uv run python bench/<name>.py`."""
