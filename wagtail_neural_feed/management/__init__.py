"""Argument types shared by the management commands: bad input is a usage error."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An argparse type for counts and sizes: 1 or more (``--batch-size -5`` is an error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value})")
    return value
