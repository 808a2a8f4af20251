"""Helpers shared by the tests and the benchmarks (fixtures live in conftest.py)."""

from __future__ import annotations

import time
import uuid

import numpy as np
from django.test import TestCase
from wagtail.models import Page

from wagtail_neural_feed.models import PageEmbedding, Reader, ReaderProfile

DIM = 384


def publish(page: Page) -> Page:
    """Publish the page's latest content the way the editor's Publish button does,
    running the on-commit callbacks the test transaction would otherwise hold back."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        page.save_revision().publish()
    page.refresh_from_db()
    return page


def wait_until(predicate, timeout: float = 20.0) -> bool:
    """Poll ``predicate`` until it is true (for work done by another thread or process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def axis(i: int, dim: int = DIM) -> np.ndarray:
    vector = np.zeros(dim, dtype=np.float32)
    vector[i] = 1.0
    return vector


def set_embedding(page: Page, vector) -> None:
    PageEmbedding.objects.filter(page_id=page.pk).update(embedding=unit(vector))


def make_reader(vector=None, *, feed: str = "default", user=None) -> Reader:
    reader = Reader.objects.create(user=user, visitor_id=None if user else uuid.uuid4())
    if vector is not None:
        ReaderProfile.objects.create(
            reader=reader,
            feed=feed,
            vector=unit(vector),
            sum_vector=unit(vector),
            interaction_count=1,
        )
    return reader


def ids(pages) -> list[int]:
    return [page.pk for page in pages]


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form, for bulk SQL."""
    values = np.asarray(vector, dtype=np.float64).tolist()
    # %-formatting of plain floats is twice as fast as format() over numpy scalars.
    return "[" + ",".join(["%.7g" % x for x in values]) + "]"  # noqa: UP031
