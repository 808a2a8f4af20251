"""Pages gain embeddings on publish and stay in sync as they change."""

import io

import pytest
from django.core.management import call_command
from django.test import override_settings
from wagtail.models import Page, PageViewRestriction

from tests.encoders import CountingEncoder
from tests.factories import PlainPageFactory
from tests.helpers import publish
from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding

COUNTING = {"ENCODER": "tests.encoders.CountingEncoder", "DISPATCH": "inline"}
FAILING = {"ENCODER": "tests.encoders.FailingEncoder", "DISPATCH": "inline"}


@pytest.fixture
def counting():
    CountingEncoder.encoded.clear()
    with override_settings(WAGTAIL_NEURAL_FEED=COUNTING):
        yield CountingEncoder.encoded


def test_publish_creates_a_ready_embedding_with_denormalised_columns(make_article):
    page = make_article("Volcanoes", "<p>Lava and magma</p>")
    row = PageEmbedding.objects.get(pk=page.pk)
    assert row.status == EmbeddingStatus.READY
    assert len(row.embedding) == 384
    assert row.model_name == "hashing"
    assert (row.live, row.view_restricted) == (True, False)
    assert row.path == page.path
    assert row.locale_id == page.locale_id
    assert row.content_type_id == page.content_type_id
    assert row.first_published_at == page.first_published_at
    assert page.embedding is not None and list(page.embedding) == list(row.embedding)


def test_republish_with_same_text_does_not_re_encode(make_article, counting):
    page = make_article("Rivers", "<p>Deltas and estuaries</p>")
    assert len(counting) == 1
    publish(page)
    assert len(counting) == 1


def test_changed_text_gets_a_new_embedding(make_article, counting):
    page = make_article("Rivers", "<p>Deltas</p>")
    before = PageEmbedding.objects.get(pk=page.pk).embedding
    page.intro = "<p>Glaciers and ice sheets</p>"
    publish(page)
    after = PageEmbedding.objects.get(pk=page.pk).embedding
    assert len(counting) == 2
    assert "Glaciers and ice sheets" in counting[-1]
    assert list(before) != list(after)


def test_draft_changes_are_never_embedded(make_article, counting):
    page = make_article("Rivers", "<p>Deltas</p>")
    before = PageEmbedding.objects.get(pk=page.pk)
    page.intro = "<p>Secret draft about dragons</p>"
    page.save_revision()  # saved, not published
    after = PageEmbedding.objects.get(pk=page.pk)
    assert after.text_hash == before.text_hash
    assert not any("dragons" in text for text in counting)


def test_unpublished_draft_page_has_no_embedding(make_article):
    page = make_article("Draft only", "<p>never published</p>", live=False)
    page.save_revision()
    assert not PageEmbedding.objects.filter(pk=page.pk).exists()


def test_non_recommendable_pages_are_ignored(home):
    page = PlainPageFactory(parent=home, live=False)
    publish(page)
    assert not PageEmbedding.objects.filter(pk=page.pk).exists()


def test_unpublish_hides_the_row_and_republish_needs_no_encoding(make_article, counting):
    page = make_article("Tides", "<p>The moon pulls</p>")
    page.unpublish()
    assert PageEmbedding.objects.get(pk=page.pk).live is False
    publish(page)
    assert PageEmbedding.objects.get(pk=page.pk).live is True
    assert len(counting) == 1


def test_delete_removes_the_row(make_article):
    page = make_article("Storms", "<p>Wind</p>")
    page.delete()
    assert not PageEmbedding.objects.filter(pk=page.pk).exists()


def test_move_updates_the_subtree_paths(make_article, section):
    parent = make_article("Weather", "<p>All of it</p>")
    child = make_article("Rain", "<p>Drops</p>", parent=parent)
    parent.move(section, pos="last-child")
    for page in (parent, child):
        page.refresh_from_db()
        assert PageEmbedding.objects.get(pk=page.pk).path == page.path
    assert PageEmbedding.objects.get(pk=child.pk).path.startswith(section.path)


def test_view_restriction_marks_the_subtree_and_removal_clears_it(make_article, section):
    inside = make_article("Members news", "<p>hush</p>", parent=section)
    outside = make_article("Public news", "<p>hello</p>")
    restriction = PageViewRestriction.objects.create(
        page=section, restriction_type=PageViewRestriction.PASSWORD, password="x"
    )
    assert PageEmbedding.objects.get(pk=inside.pk).view_restricted is True
    assert PageEmbedding.objects.get(pk=outside.pk).view_restricted is False
    restriction.delete()
    assert PageEmbedding.objects.get(pk=inside.pk).view_restricted is False


def test_publishing_under_a_restricted_section_is_restricted(section, make_article):
    PageViewRestriction.objects.create(page=section, restriction_type="login")
    page = make_article("Private memo", "<p>x</p>", parent=section)
    assert PageEmbedding.objects.get(pk=page.pk).view_restricted is True


def test_locale_change_is_synced_on_publish(make_article):
    from wagtail.models import Locale

    french = Locale.objects.create(language_code="fr")
    page = make_article("Fromage", "<p>du lait</p>")
    Page.objects.filter(pk=page.pk).update(locale=french)
    page.refresh_from_db()
    publish(page)
    assert PageEmbedding.objects.get(pk=page.pk).locale_id == french.pk


def test_failing_encoder_never_breaks_publishing_and_the_command_repairs(make_article):
    with override_settings(WAGTAIL_NEURAL_FEED=FAILING):
        page = make_article("Glaciers", "<p>Ice</p>")
    page.refresh_from_db()
    assert page.live
    row = PageEmbedding.objects.get(pk=page.pk)
    assert row.status == EmbeddingStatus.FAILED
    assert "model exploded" in row.error
    assert row.attempts == 1
    call_command("neural_feed_embed", "--failed", stdout=io.StringIO())
    row.refresh_from_db()
    assert row.status == EmbeddingStatus.READY and row.error == ""


def test_unbuildable_encoder_never_breaks_publishing(make_article):
    with override_settings(
        WAGTAIL_NEURAL_FEED={"ENCODER": "no.such.Encoder", "DISPATCH": "inline"}
    ):
        page = make_article("Deserts", "<p>Sand</p>")
    page.refresh_from_db()
    assert page.live
    assert PageEmbedding.objects.get(pk=page.pk).status == EmbeddingStatus.FAILED


def test_nearest_neighbour_query_uses_the_hnsw_index(make_article):
    from django.db import connection, transaction

    pages = [make_article(f"Page {i}", f"<p>topic {i}</p>") for i in range(5)]
    vector = PageEmbedding.objects.get(pk=pages[0].pk).embedding
    literal = "[" + ",".join(str(float(x)) for x in vector) + "]"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned
        cursor.execute(
            "EXPLAIN SELECT page_id FROM wagtail_neural_feed_pageembedding "
            "ORDER BY embedding <=> %s::vector LIMIT 5",
            [literal],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "neural_feed_embedding_hnsw" in plan
