"""The StreamField blocks, rendered inside real pages through the test client."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from django.contrib.auth.models import User
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.models import PageViewRestriction

from tests.helpers import axis, publish, set_embedding
from tests.testapp.models import ArticlePage
from wagtail_neural_feed.blocks import RecommendedPagesBlock, SimilarPagesBlock
from wagtail_neural_feed.models import Reader, ReaderProfile
from wagtail_neural_feed.tracking import read_list_token

LINK = re.compile(r'data-neural-feed-page="(\d+)"')
FEEDS = ["tests.feeds.ArticlesFeed", "tests.feeds.NewsFeed"]


def linked(html: str) -> list[int]:
    return [int(pk) for pk in LINK.findall(html)]


def related(*blocks) -> str:
    return json.dumps([{"type": kind, "value": value} for kind, value in blocks])


@pytest.fixture
def articles(make_article):
    pages = [make_article(f"Article {n}", search_description=f"About {n}") for n in range(8)]
    for n, page in enumerate(pages):
        set_embedding(page, axis(n))
    return pages


@pytest.fixture
def host(make_article):
    """The page that carries the blocks (close to Article 0, so it is ranked first for it)."""

    def make(*blocks):
        page = make_article("Host page", related=related(*blocks))
        set_embedding(page, axis(0) + 0.2 * axis(1))
        return page

    return make


def get(client, page, **extra):
    response = client.get(page.url, HTTP_USER_AGENT="Mozilla/5.0", **extra)
    assert response.status_code == 200
    return response, response.content.decode()


def test_anonymous_visitor_sees_a_tracked_list_without_the_page_itself(client, articles, host):
    page = host(("recommended", {"count": 5, "layout": "cards"}))
    response, html = get(client, page)
    shown = linked(html)
    assert len(shown) == 5 and page.pk not in shown
    token = re.search(r'data-neural-feed-list="([^"]+)"', html).group(1)
    described = read_list_token(token)
    assert described["page_ids"] == shown and described["context_page_id"] == page.pk
    assert 'class="neural-feed neural-feed--cards"' in html
    assert re.search(r'aria-labelledby="(neural-feed-\w+)"', html).group(1) in html
    assert "Recommended for you" in html  # the default feed's title as heading
    assert "About" in html  # summaries from the search description
    assert "Cookie" in response["Vary"]
    assert "private" not in response.get("Cache-Control", "")


def test_a_visitor_with_history_gets_a_personal_private_list(client, articles, host):
    page = host(("recommended", {"count": 3}))
    visitor = uuid.uuid4()
    reader = Reader.objects.create(visitor_id=visitor)
    ReaderProfile.objects.create(reader=reader, feed="default", vector=axis(6), sum_vector=axis(6))
    client.cookies["nf_visitor"] = str(visitor)
    response, html = get(client, page)
    assert linked(html)[0] == articles[6].pk
    assert "private" in response["Cache-Control"]
    client.cookies.pop("nf_visitor")
    _, anonymous_html = get(client, page)
    assert linked(anonymous_html)[0] != articles[6].pk


def test_a_logged_in_user_sees_what_they_may_see(client, articles, host, section, make_article):
    members = make_article("Members only", parent=section)
    set_embedding(members, axis(0))
    PageViewRestriction.objects.create(page=section, restriction_type="login")
    page = host(("recommended", {"count": 3, "picks": [members.pk]}))
    _, html = get(client, page)
    assert members.pk not in linked(html)
    client.force_login(User.objects.create_user("member"))
    response, html = get(client, page)
    assert linked(html)[0] == members.pk
    assert "private" in response["Cache-Control"]


def test_picks_are_placed_first(client, articles, host):
    page = host(("recommended", {"count": 4, "picks": [articles[7].pk, articles[5].pk]}))
    _, html = get(client, page)
    assert linked(html)[:2] == [articles[7].pk, articles[5].pk]
    assert len(set(linked(html))) == 4


def test_similar_block_uses_the_page_it_is_on(client, articles, host):
    page = host(("similar", {"count": 2}))
    _, html = get(client, page)
    assert linked(html) == [articles[0].pk, articles[1].pk]
    assert "More like this" in html


def test_a_block_renders_without_a_request(articles, host):
    page = host(("recommended", {"count": 3}), ("similar", {"count": 2}))
    page = ArticlePage.objects.get(pk=page.pk)
    recommended, similar = page.related
    assert len(linked(str(recommended))) == 3  # {{ block }} outside a page: no context at all
    html = similar.render(context={"page": page})
    assert linked(html) == [articles[0].pk, articles[1].pk]


def test_unknown_feed_renders_the_empty_state_and_logs(client, articles, host, caplog):
    page = host(
        ("recommended", {"feed": "gone", "hide_when_empty": False, "empty_text": "Nothing yet"})
    )
    with caplog.at_level(logging.WARNING, logger="wagtail_neural_feed"):
        _, html = get(client, page)
    assert "Nothing yet" in html and linked(html) == []
    assert "No feed 'gone'" in caplog.text


def test_an_empty_list_hides_the_block(client, host):
    page = host(("recommended", {"feed": "gone"}))
    _, html = get(client, page)
    assert "neural-feed" not in html.split("<body>")[1].split("<script")[0]


def test_client_side_mode_renders_the_placeholder(client, articles, host):
    page = host(("recommended", {"count": 4, "layout": "cards", "client_side": True}))
    response, html = get(client, page)
    assert (
        f'data-neural-feed-placeholder data-feed="" data-limit="4" data-context="{page.pk}" '
        'data-layout="cards" data-similar="0"'
    ) in html
    assert linked(html) == []
    assert "private" not in response.get("Cache-Control", "")


def test_titles_and_summaries_are_escaped(client, articles, host, make_article):
    nasty = make_article('<script>alert("x")</script>', search_description="<b>bold</b> & more")
    set_embedding(nasty, axis(0))
    page = host(("recommended", {"count": 2, "picks": [nasty.pk]}))
    _, html = get(client, page)
    assert "<script>alert" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html


def test_a_feed_with_its_own_template(client, settings, make_article, host):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "FEEDS": FEEDS}
    from tests.factories import NewsPageFactory

    news = NewsPageFactory.build(title="Breaking", live=False)
    host_page = host(("recommended", {"feed": "news", "count": 2}))
    host_page.get_parent().add_child(instance=news)
    publish(news)
    _, html = get(client, host_page)
    assert '<aside class="news-feed"' in html and linked(html) == [news.pk]


def test_images_come_from_the_hook(client, articles, host, monkeypatch):
    from wagtail_factories import ImageFactory

    image = ImageFactory(title="Cover")
    monkeypatch.setattr(ArticlePage, "get_recommendation_image", lambda self: image, raising=False)
    page = host(("recommended", {"count": 2, "layout": "cards", "show_image": True}))
    _, html = get(client, page)
    assert html.count('class="neural-feed__image"') == 2
    assert 'alt=""' in html


# --- the editor ------------------------------------------------------------------------


def test_bad_values_fail_validation_with_a_message(settings):
    block = RecommendedPagesBlock()
    with pytest.raises(StructBlockValidationError) as caught:
        block.clean(block.to_python({"count": 30}))
    assert "between 1 and 24" in str(caught.value.block_errors["count"])
    with pytest.raises(StructBlockValidationError) as caught:
        block.clean(block.to_python({"count": 0}))
    assert "count" in caught.value.block_errors
    with pytest.raises(StructBlockValidationError) as caught:
        block.clean(block.to_python({"feed": "nope"}))
    assert "no feed nope" in str(caught.value.block_errors["feed"])
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "FEEDS": FEEDS}
    assert block.clean(block.to_python({"feed": "news", "count": 24}))["feed"] == "news"


def test_feed_choices_are_read_when_the_form_is_built(settings):
    block = SimilarPagesBlock()
    field = block.child_blocks["feed"].field
    assert "news" not in dict(field.choices)
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "FEEDS": FEEDS}
    assert dict(field.choices)["news"] == "Latest news"


@pytest.mark.parametrize("name", ["recommended", "similar"])
def test_block_preview_renders_in_the_admin(client, articles, name):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    block = ArticlePage._meta.get_field("related").stream_block.child_blocks[name]
    assert block.is_previewable
    response = client.get("/admin/block-preview/", {"id": block.definition_prefix})
    assert response.status_code == 200
    html = response.content.decode()
    assert len(linked(html)) == block.child_blocks["count"].get_default()
    assert "wagtail_neural_feed/neural_feed.css" in html
    assert str(block.meta.description) and block.meta.icon


def test_the_page_editor_offers_the_blocks_and_the_registered_feeds(client, settings, host):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "FEEDS": FEEDS}
    page = host(("recommended", {"feed": "news", "picks": []}))
    client.force_login(User.objects.create_superuser("editor", "editor@example.com", "pw"))
    response = client.get(f"/admin/pages/{page.pk}/edit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Recommended for you" in html and "More like this" in html
    assert "Latest news" in html  # a feed registered after the block was built


def test_the_blocks_add_nothing_to_the_pages_text(host, make_article):
    from wagtail_neural_feed.text import page_text

    page = host(("recommended", {"heading": "Zebra crossing", "empty_text": "Quokka"}))
    text = page_text(ArticlePage.objects.get(pk=page.pk))
    assert "Host page" in text and "Zebra" not in text and "Quokka" not in text
