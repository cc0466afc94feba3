"""Everything that is not UI: data, models in the lecture's notation, training recipes, metrics.

This package never imports gradio (tests/test_structure.py enforces it).
"""
