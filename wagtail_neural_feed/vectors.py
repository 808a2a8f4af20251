"""Vector helpers shared by encoders, profiles, ranking and diversity."""

from __future__ import annotations

import numpy as np


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each vector (the last axis) to unit length, as float32.

    A zero (or non-finite) vector stays zero rather than becoming NaN: callers
    test ``has_direction()`` where "no direction" must mean "no vector".
    """
    array = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    usable = np.isfinite(norms) & (norms > 0)
    return np.where(usable, array / np.where(usable, norms, 1.0), 0.0).astype(np.float32)


def has_direction(vector: np.ndarray | None) -> bool:
    """Whether ``vector`` can be normalised (not None, finite and not all zero)."""
    if vector is None:
        return False
    norm = float(np.linalg.norm(vector))
    return bool(np.isfinite(norm) and norm > 0)
