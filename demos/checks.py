"""Checks for values that arrive through the API unchecked (a slider's range holds only in the page)."""

from __future__ import annotations

# --- argument checks for values that arrive through the API unchecked ----------------------------------------


def bounded_int(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, not {value!r}.")
    try:
        number = float(value) if not isinstance(value, int) else value
        if number != int(number):  # 2.7 is not silently 2
            raise ValueError
        number = int(number)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity arrives through the JSON API
        raise ValueError(f"{name} must be a whole number, not {value!r}.") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must lie between {low} and {high}, not {number}.")
    return number


def bounded_float(value, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}.") from None
    if not low <= number <= high:  # also rejects NaN
        raise ValueError(f"{name} must lie between {low} and {high}, not {number}.")
    return number


MAX_SEED = 2**31 - 1
MAX_GRID_SAMPLES = 64  # images in one sample grid
MAX_PATH_STEPS = 16  # images along one interpolation strip


def valid_seed(value) -> int:
    return bounded_int(value, "The seed", 0, MAX_SEED)
