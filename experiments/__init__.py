"""Experiment files: each declares `get_config(mode)` and `sweep(mode)` (see launch.py)."""
