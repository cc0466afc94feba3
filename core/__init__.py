"""Everything that is not UI: data, models in the lecture's notation, training recipes, metrics.

This package holds no UI: it never imports the web UI library or demos/ (tests/test_structure.py enforces it).
"""
