"""Training recipes: `python -m core.train <recipe> [--dry-run] [--field value ...]` writes checkpoints/<recipe>/."""
