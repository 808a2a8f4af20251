"""Impressions and clicks through the beacon endpoint, and click-through from them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, timedelta

import pytest
from django.core.cache import cache
from django.test import TestCase
from django.utils import timezone

from wagtail_neural_feed.impressions import click_through, purge_old_impressions
from wagtail_neural_feed.models import Impression, Interaction, Reader
from wagtail_neural_feed.tracking import forget_reader, list_token

URL = "/neural-feed/interactions/"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shown(make_article):
    pages = [make_article(f"Listed {i}") for i in range(3)]
    list_id = uuid.uuid4().hex
    token = list_token(list_id, "news", [page.pk for page in pages], pages[0].pk)
    return {"list_id": list_id, "token": token, "pages": pages}


def post(client, body, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.generic("POST", URL, data, content_type="text/plain", **extra)


def test_an_impression_is_one_row_with_the_list_as_rendered(client, shown):
    response = post(client, {"kind": "impression", "list": shown["token"]})
    assert response.status_code == 201, response.content
    assert "nf_visitor" in response.cookies
    row = Impression.objects.get()
    assert row.list_id == shown["list_id"] and row.feed == "news"
    assert row.page_ids == [page.pk for page in shown["pages"]]
    assert row.context_page_id == shown["pages"][0].pk
    assert row.clicked_page_ids == [] and row.clicked_at is None
    assert row.reader.visitor_id == uuid.UUID(response.cookies["nf_visitor"].value)
    # Shown again (a second observer, a reload of the same HTML): still one row.
    assert post(client, {"kind": "impression", "list": shown["token"]}).status_code == 201
    assert Impression.objects.count() == 1


def test_clicks_are_kept_once_each_and_are_not_interactions(client, shown):
    first, second = shown["pages"][1].pk, shown["pages"][2].pk
    post(client, {"kind": "impression", "list": shown["token"]})
    for page_id in (first, first, second):
        response = post(client, {"kind": "click", "list": shown["token"], "page": page_id})
        assert response.status_code == 201
    row = Impression.objects.get()
    assert row.clicked_page_ids == [first, second]
    assert row.clicked_at is not None and row.clicked_at >= row.shown_at
    assert not Interaction.objects.exists()  # the landing page's tracker records the view


def test_a_click_before_its_impression_records_both(client, shown):
    page_id = shown["pages"][2].pk
    response = post(client, {"kind": "click", "list": shown["token"], "page": page_id})
    assert response.status_code == 201
    post(client, {"kind": "impression", "list": shown["token"]})
    row = Impression.objects.get()
    assert row.clicked_page_ids == [page_id] and row.page_ids[2] == page_id


def test_one_cached_list_seen_by_two_readers_is_two_rows(client, shown, django_user_model):
    post(client, {"kind": "impression", "list": shown["token"]})
    other = client.__class__()
    other.force_login(django_user_model.objects.create_user("second"))
    post(other, {"kind": "impression", "list": shown["token"]})
    assert Impression.objects.count() == 2
    assert Reader.objects.count() == 2


BAD = [
    ("no list token", {"kind": "impression", "list": None}, 403),
    ("empty list token", {"kind": "impression", "list": ""}, 403),
    ("forged token", {"kind": "impression", "list": "eyJsIjoiMSJ9:forged:sig"}, 403),
    ("token as number", {"kind": "click", "list": 12, "page": 1}, 403),
    ("page not in list", {"kind": "click", "page": 999999}, 400),
    ("click without page", {"kind": "click"}, 400),
    ("page as string", {"kind": "click", "page": "1"}, 400),
    ("page as bool", {"kind": "click", "page": True}, 400),
    ("impression with a page", {"kind": "impression", "page": 1}, 400),
]


@pytest.mark.parametrize("label,body,status", BAD, ids=[b[0] for b in BAD])
def test_bad_list_beacons_are_refused(client, shown, label, body, status):
    body = {"list": shown["token"], **body}
    response = post(client, body)
    assert response.status_code == status, (label, response.content)
    assert response.json()["error"]
    assert not Impression.objects.exists() and not Reader.objects.exists()


def test_a_token_for_a_page_is_not_a_list_token(client, shown):
    from wagtail_neural_feed.tracking import page_token

    body = {"kind": "impression", "list": page_token(shown["pages"][0].pk)}
    assert post(client, body).status_code == 403


def test_do_not_track_gpc_and_missing_consent_store_nothing(client, shown, settings):
    body = {"kind": "click", "list": shown["token"], "page": shown["pages"][0].pk}
    assert post(client, body, HTTP_DNT="1").status_code == 204
    assert post(client, body, HTTP_SEC_GPC="1").status_code == 204
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "CONSENT_COOKIE_NAME": "ok"}
    response = post(client, body)
    assert response.status_code == 204 and "nf_visitor" not in response.cookies
    assert not Impression.objects.exists() and not Reader.objects.exists()
    client.cookies["ok"] = "yes"
    assert post(client, body).status_code == 201


def test_list_beacons_share_the_rate_limit(client, shown, settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "RATE_LIMIT_PER_MINUTE": 2}
    body = {"kind": "impression", "list": shown["token"]}
    statuses = [post(client, body).status_code for _ in range(5)]
    # The first beacon comes before the visitor cookie (only the IP budget counts it).
    assert statuses == [201, 201, 201, 429, 429]


# --- click-through -------------------------------------------------------------------


def make_impression(reader, feed, pages, clicked=(), *, days_ago=0):
    return Impression.objects.create(
        list_id=uuid.uuid4().hex,
        reader=reader,
        feed=feed,
        page_ids=pages,
        clicked_page_ids=list(clicked),
        shown_at=timezone.now() - timedelta(days=days_ago),
    )


def test_click_through_per_feed_day_and_per_page(db):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    first = make_impression(reader, "news", [1, 2, 3], [2])
    make_impression(reader, "news", [2, 3, 4], [])
    make_impression(reader, "news", [1, 2], [1, 2])
    make_impression(reader, "default", [3, 4], [4], days_ago=3)
    result = click_through()
    today = first.shown_at.astimezone(UTC).date()
    news = next(row for row in result.by_feed_day if row.feed == "news")
    assert (news.day, news.impressions, news.clicked_lists, news.clicks) == (today, 3, 2, 3)
    assert news.ctr == pytest.approx(2 / 3)
    old = next(row for row in result.by_feed_day if row.feed == "default")
    assert old.day == today - timedelta(days=3) and old.ctr == 1.0
    pages = {row.page_id: (row.impressions, row.clicks) for row in result.by_page}
    assert pages == {1: (2, 1), 2: (3, 2), 3: (3, 0), 4: (2, 1)}
    assert result.by_page[0].page_id in (2, 3)  # most shown first
    only_news = click_through(feed="news")
    assert {row.feed for row in only_news.by_feed_day} == {"news"}
    recent = click_through(since=timezone.now() - timedelta(days=1))
    assert sum(row.impressions for row in recent.by_feed_day) == 3
    assert {row.page_id: row.clicks for row in recent.by_page}[4] == 0


def test_retention_and_forgetting_remove_impressions(db):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    make_impression(reader, "news", [1], days_ago=400)
    make_impression(reader, "news", [1])
    assert purge_old_impressions() == 1
    forget_reader(reader)
    assert not Impression.objects.exists()


def test_on_probation_a_first_contact_list_beacon_stores_nothing_until_the_visitor_returns(
    client, shown, settings
):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "VISITOR_PROBATION_SECONDS": 600,
    }
    # A script: cookieless impressions, each a new visitor, none kept.
    for _ in range(5):
        scripted = client.__class__()
        response = post(scripted, {"kind": "impression", "list": shown["token"]})
        assert response.status_code == 202 and json.loads(response.content)["stored"] is False
    assert Reader.objects.count() == 0 and Impression.objects.count() == 0
    # A browser: its first beacon sets the cookie, the next comes back with it.
    first = post(client, {"kind": "impression", "list": shown["token"]})
    assert first.status_code == 202 and "nf_visitor" in first.cookies
    again = post(client, {"kind": "click", "list": shown["token"], "page": shown["pages"][1].pk})
    assert again.status_code == 201
    row = Impression.objects.get()
    assert row.clicked_page_ids == [shown["pages"][1].pk]
    assert Reader.objects.count() == 1
