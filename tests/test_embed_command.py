"""``manage.py neural_feed_embed``: missing, stale, failed, rebuild, dry run, page types."""

import io
import os
import subprocess
import sys
import textwrap

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from wagtail.models import Page

from tests.testapp.models import ArticlePage
from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding
from wagtail_neural_feed.models.fields import HOT_HNSW_INDEX, PAGE_HNSW_INDEX
from wagtail_neural_feed.schema import column_dimensions


def run(*args) -> str:
    out = io.StringIO()
    call_command("neural_feed_embed", *args, stdout=out)
    return out.getvalue()


def test_creates_rows_for_pages_published_before_install(make_article, news_page):
    page = make_article("Old article", "<p>from before</p>")
    PageEmbedding.objects.all().delete()
    output = run()
    assert "Embedded 2 page(s)" in output
    assert set(PageEmbedding.objects.ready().values_list("pk", flat=True)) == {
        page.pk,
        news_page.pk,
    }


@pytest.fixture
def news_page(home):
    from tests.factories import NewsPageFactory
    from tests.helpers import publish

    page = NewsPageFactory(parent=home, live=False, summary="Election night")
    return publish(page)


def test_dry_run_changes_nothing(make_article):
    make_article("A", "<p>a</p>")
    PageEmbedding.objects.all().delete()
    assert "Would embed 1 page(s) (1 without a row)" in run("--dry-run")
    assert not PageEmbedding.objects.exists()


def test_page_type_limits_the_run(make_article, news_page):
    make_article("A", "<p>a</p>")
    PageEmbedding.objects.all().delete()
    run("--page-type", "testapp.NewsPage")
    assert list(PageEmbedding.objects.values_list("pk", flat=True)) == [news_page.pk]


def test_page_type_must_be_recommendable():
    with pytest.raises(CommandError, match="RecommendablePageMixin"):
        run("--page-type", "testapp.PlainPage")


def test_stale_text_is_found_and_re_embedded(make_article):
    page = make_article("A", "<p>old words</p>")
    before = PageEmbedding.objects.get(pk=page.pk).text_hash
    # content changed behind Wagtail's back (e.g. a data migration)
    ArticlePage.objects.filter(pk=page.pk).update(intro="<p>brand new words</p>")
    assert "Embedded 1 page(s)" in run()
    assert PageEmbedding.objects.get(pk=page.pk).text_hash != before
    assert "Embedded 0 page(s)" in run()  # idempotent


def test_rebuild_resizes_columns_when_the_model_dimension_changes(make_article, settings):
    page = make_article("A", "<p>a</p>")
    settings.WAGTAIL_NEURAL_FEED = {
        "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
        "ENCODER_OPTIONS": {"dimensions": 16},
        "DISPATCH": "inline",
    }
    output = run("--rebuild")
    assert "Resized vector columns to 16 dimensions" in output
    assert column_dimensions() == 16
    assert len(PageEmbedding.objects.get(pk=page.pk).embedding) == 16
    with connection.cursor() as cursor:  # both HNSW indexes rebuilt, as the models declare them
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN (%s, %s)",
            [PAGE_HNSW_INDEX, HOT_HNSW_INDEX],
        )
        definitions = dict(cursor.fetchall())
    assert set(definitions) == {PAGE_HNSW_INDEX, HOT_HNSW_INDEX}
    for definition in definitions.values():
        assert "USING hnsw (embedding vector_cosine_ops)" in definition
        assert "m='16'" in definition and "ef_construction='64'" in definition
    # (DDL is transactional in PostgreSQL: the test's rollback restores vector(384))


def test_failures_are_reported_with_a_nonzero_exit(make_article, settings):
    make_article("A", "<p>a</p>")
    settings.WAGTAIL_NEURAL_FEED = {"ENCODER": "tests.encoders.FailingEncoder"}
    with pytest.raises(CommandError, match="--failed"):
        run("--rebuild")
    assert PageEmbedding.objects.get().status == EmbeddingStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_process_that_exits_right_after_publishing_loses_nothing(home):
    """Publish in a subprocess whose background encoding is cut off by exiting;
    the row is left pending and the command picks it up."""
    script = textwrap.dedent(
        f"""
        import os, django
        django.setup()
        from django.test import override_settings
        from wagtail.models import Page
        from tests.testapp.models import ArticlePage
        with override_settings(WAGTAIL_NEURAL_FEED={{
            "ENCODER": "tests.encoders.SlowEncoder", "DISPATCH": "thread"}}):
            page = ArticlePage(title="Last words", intro="<p>before the crash</p>", live=False)
            Page.objects.get(pk={home.pk}).add_child(instance=page)
            page.save_revision().publish()
        print(page.pk, flush=True)
        os._exit(0)  # the process dies while the background thread is encoding
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "NEURAL_FEED_TEST_DB": connection.settings_dict["NAME"],
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    page_id = int(result.stdout.split()[0])
    assert Page.objects.get(pk=page_id).live
    assert PageEmbedding.objects.get(pk=page_id).status == EmbeddingStatus.PENDING
    run()
    assert PageEmbedding.objects.get(pk=page_id).status == EmbeddingStatus.READY
