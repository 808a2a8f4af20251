"""Bulk load of precomputed vectors: ``neural_feed_embed --from-npy`` / ``bulk.load_vectors``.

Small scale, real PostgreSQL: the rows, their denormalised columns and the
rebuilt HNSW index must be exactly what publishing would have produced.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from wagtail.models import Page, PageViewRestriction

from tests.factories import NewsPageFactory, PlainPageFactory
from tests.helpers import publish
from wagtail_neural_feed import bulk
from wagtail_neural_feed.encoders import get_encoder
from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding
from wagtail_neural_feed.models.fields import PAGE_HNSW_INDEX

DIM = 384


def run(*args) -> str:
    out = io.StringIO()
    call_command("neural_feed_embed", *args, stdout=out)
    return out.getvalue()


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def save(tmp_path, ids, vectors) -> list[str]:
    """The command's arguments for these ids and vectors, saved as .npy files."""
    np.save(tmp_path / "ids.npy", np.asarray(ids))
    np.save(tmp_path / "vectors.npy", np.asarray(vectors))
    return ["--from-npy", str(tmp_path / "vectors.npy"), "--ids", str(tmp_path / "ids.npy")]


def page_index() -> tuple[int, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.oid, pg_get_indexdef(c.oid) FROM pg_class c WHERE c.relname = %s",
            [PAGE_HNSW_INDEX],
        )
        return cursor.fetchone()


@pytest.fixture
def pages(home, section, make_article):
    """Pages of every kind the loader must tell apart."""
    plain = make_article("Plain article", "<p>words</p>")
    in_section = make_article("In a section", "<p>more</p>", parent=section)
    news = publish(NewsPageFactory(parent=home, live=False, summary="Election night"))
    draft = make_article("Never published", "<p>draft</p>", live=False)
    restricted_parent = make_article("Members", "<p>members only</p>")
    restricted = make_article("Behind login", "<p>secret</p>", parent=restricted_parent)
    PageViewRestriction.objects.create(page=restricted_parent, restriction_type="login")
    not_recommendable = PlainPageFactory(parent=home)
    return {
        "loaded": [plain, in_section, news, draft, restricted_parent, restricted],
        "not_recommendable": not_recommendable,
    }


def test_command_loads_rows_with_the_page_trees_columns_and_rebuilds_the_index(pages, tmp_path):
    loaded = pages["loaded"]
    missing_id = max(Page.objects.values_list("pk", flat=True)) + 1000
    ids = [page.pk for page in loaded] + [pages["not_recommendable"].pk, missing_id]
    vectors = unit_vectors(len(ids))
    index_before = page_index()

    output = run(*save(tmp_path, ids, vectors), "--batch-size", "4")

    assert f"Loaded {len(loaded)} vector(s)" in output
    assert "Skipped 2 id(s)" in output
    assert not PageEmbedding.objects.filter(pk__in=ids[-2:]).exists()
    restricted_paths = {pages["loaded"][4].path, pages["loaded"][5].path}
    for page, vector in zip(loaded, vectors, strict=False):
        page = Page.objects.get(pk=page.pk)
        row = PageEmbedding.objects.get(pk=page.pk)
        assert row.status == EmbeddingStatus.READY
        assert np.allclose(np.asarray(row.embedding), vector, atol=1e-6)
        assert row.model_name == get_encoder().model_name
        assert (row.live, row.path, row.locale_id, row.content_type_id) == (
            page.live,
            page.path,
            page.locale_id,
            page.content_type_id,
        )
        assert row.first_published_at == page.first_published_at
        assert row.last_published_at == page.last_published_at
        assert row.view_restricted is (page.path in restricted_paths)
    # The index is the model's, built anew (a new relation), not left dropped.
    oid, definition = page_index()
    assert oid != index_before[0]
    assert definition == index_before[1]
    assert "hnsw" in definition and "m='16'" in definition


def test_loaded_rows_carry_the_text_hash_so_a_plain_run_has_nothing_to_do(pages, tmp_path):
    live = [page for page in pages["loaded"] if page.live]
    run(*save(tmp_path, [p.pk for p in live], unit_vectors(len(live))))
    assert "Embedded 0 page(s)" in run()


def test_skip_text_hash_leaves_pages_for_the_next_plain_run(pages, tmp_path):
    live = [page for page in pages["loaded"] if page.live]
    run(
        *save(tmp_path, [p.pk for p in live], unit_vectors(len(live))),
        "--skip-text-hash",
    )
    assert set(
        PageEmbedding.objects.filter(pk__in=[p.pk for p in live]).values_list(
            "text_hash", flat=True
        )
    ) == {""}
    assert f"Embedded {len(live)} page(s)" in run()


def test_keep_index_writes_into_the_live_index(pages, tmp_path):
    ids = [page.pk for page in pages["loaded"]]
    before = page_index()
    run(*save(tmp_path, ids, unit_vectors(len(ids))), "--keep-index")
    assert page_index() == before


def test_ranking_uses_the_loaded_vectors(pages):
    """A page whose loaded vector is the query's is the first similar page."""
    from wagtail_neural_feed import similar_pages

    plain, in_section, news = pages["loaded"][:3]
    vectors = unit_vectors(3, seed=7)
    vectors[1] = vectors[0] * 0.9 + vectors[1] * 0.1  # in_section close to plain
    vectors[1] /= np.linalg.norm(vectors[1])
    bulk.load_vectors(
        [plain.pk, in_section.pk, news.pk], vectors, model_name="precomputed", hash_text=False
    )
    assert similar_pages(plain, limit=1)[0].pk == in_section.pk


@pytest.mark.parametrize(
    ("ids", "vectors", "message"),
    [
        ([1, 2], unit_vectors(3), "2 page id"),
        ([1, 1], unit_vectors(2), "repeat"),
        ([1], np.ones((1, 12), dtype=np.float32), "12 dimensions"),
        ([1], np.full((1, DIM), np.nan, dtype=np.float32), "NaN"),
        ([1], np.zeros((1, DIM), dtype=np.float32), "zero vector"),
        ([1], np.ones(DIM, dtype=np.float32), "2-D"),
    ],
)
def test_bad_input_is_a_usage_error_and_changes_nothing(pages, tmp_path, ids, vectors, message):
    before = page_index()
    rows = list(PageEmbedding.objects.order_by("pk").values_list("pk", "status", "text_hash"))
    with pytest.raises(CommandError, match=message):
        run(*save(tmp_path, ids, vectors))
    assert page_index() == before
    assert (
        list(PageEmbedding.objects.order_by("pk").values_list("pk", "status", "text_hash")) == rows
    )


def test_vectors_without_ids_is_a_usage_error(tmp_path):
    np.save(tmp_path / "vectors.npy", unit_vectors(1))
    with pytest.raises(CommandError, match="go together"):
        run("--from-npy", str(tmp_path / "vectors.npy"))
    with pytest.raises(CommandError, match="Cannot read"):
        run("--from-npy", str(tmp_path / "missing.npy"), "--ids", str(tmp_path / "missing.npy"))


def test_index_memory_estimate_grows_with_rows_and_dimensions():
    assert bulk.index_memory_bytes(1_000_000, 384) > 1_000_000 * 384 * 4
    assert bulk.index_memory_bytes(2_000, 384) < bulk.index_memory_bytes(4_000, 384)
    assert bulk.index_memory_bytes(1_000, 768) > bulk.index_memory_bytes(1_000, 384)
