"""The headless JSON API: its shape, its errors, its rate limit, and the router endpoint."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.template import Context, Template
from wagtail.models import PageViewRestriction, Site

from wagtail_neural_feed.tracking import read_list_token

URL = "/neural-feed/recommendations/"


def similar_url(page_id) -> str:
    return f"/neural-feed/similar/{page_id}/"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def articles(make_article):
    return [make_article(f"Story {i}", f"<p>About topic {i % 2}.</p>") for i in range(4)]


def test_recommendations_are_serialised_like_wagtails_pages_api(client, articles):
    response = client.get(URL, {"limit": "3"})
    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "Cookie" in response["Vary"]
    data = response.json()
    assert set(data) == {"meta", "feed", "context", "list_token", "items"}
    assert data["feed"] == "default" and data["context"] is None
    assert data["meta"]["total_count"] == len(data["items"]) == 3
    by_id = {page.pk: page for page in articles}
    for rank, item in enumerate(data["items"], start=1):
        page = by_id[item["id"]]
        assert item["title"] == page.title
        meta = item["meta"]
        assert meta["type"] == "testapp.ArticlePage"
        assert meta["html_url"] == f"http://localhost{page.url}"
        assert meta["slug"] == page.slug and meta["locale"] == "en"
        assert meta["first_published_at"].endswith("Z")
        recommendation = item["recommendation"]
        assert recommendation["rank"] == rank
        assert set(recommendation) == {"rank", "score", "similarity", "freshness", "popularity"}
    shown = read_list_token(data["list_token"])
    assert shown["page_ids"] == [item["id"] for item in data["items"]]
    assert shown["feed"] == "default" and shown["context_page_id"] is None


def test_context_and_similar_leave_out_the_page_itself(client, articles):
    here = articles[0]
    data = client.get(URL, {"context": str(here.pk), "limit": "10"}).json()
    assert data["context"] == here.pk
    assert here.pk not in [item["id"] for item in data["items"]]
    assert read_list_token(data["list_token"])["context_page_id"] == here.pk
    similar = client.get(similar_url(here.pk)).json()
    assert similar["feed"] == "similar" and similar["context"] == here.pk
    ids = [item["id"] for item in similar["items"]]
    assert ids and here.pk not in ids and len(ids) <= 5
    assert set(ids) <= {page.pk for page in articles}


def test_an_empty_list_has_no_token(client, home):
    data = client.get(URL).json()
    assert data["items"] == [] and data["list_token"] is None
    assert data["meta"]["total_count"] == 0


BAD_PARAMETERS = [
    {"limit": "abc"},
    {"limit": "0"},
    {"limit": "-1"},
    {"limit": "1.5"},
    {"limit": "51"},
    {"limit": "99999999999999999999999"},
    {"context": "abc"},
    {"context": "0"},
    {"context": "1e3"},
    {"feed": "default", "limt": "3"},
]


@pytest.mark.parametrize("params", BAD_PARAMETERS, ids=[str(p) for p in BAD_PARAMETERS])
def test_bad_parameters_answer_400_with_a_message(client, articles, params):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"]
    assert client.get(similar_url(articles[0].pk), params).status_code == 400


def test_a_malformed_similar_id_is_400(client, articles):
    response = client.get(similar_url("abc"))
    assert response.status_code == 400 and "positive integer" in response.json()["error"]


def test_unknown_feed_and_unavailable_pages_answer_404(client, articles, make_article):
    assert client.get(URL, {"feed": "nope"}).status_code == 404
    assert "nope" in client.get(URL, {"feed": "nope"}).json()["error"]
    draft = make_article("Draft", live=False)
    private = make_article("Members")
    PageViewRestriction.objects.create(page=private, restriction_type="login")
    for page_id in (999999, draft.pk, private.pk):
        response = client.get(URL, {"context": str(page_id)})
        assert response.status_code == 404, page_id
        assert response.json()["error"] == f"No page {page_id} is available to you."
        assert client.get(similar_url(page_id)).status_code == 404


def test_only_get_is_allowed(client, articles):
    response = client.post(URL, {})
    assert response.status_code == 405 and "GET" in response["Allow"]
    assert response.json()["error"]
    assert client.delete(similar_url(articles[0].pk)).status_code == 405


def test_a_flood_from_one_address_is_rate_limited(client, articles, settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "API_RATE_LIMIT_PER_IP_PER_MINUTE": 3,
    }
    statuses = [client.get(URL).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = client.get(similar_url(articles[0].pk))
    assert response.status_code == 429 and response.json()["error"]
    # Another address has its own budget.
    assert client.get(URL, REMOTE_ADDR="10.0.0.9").status_code == 200


# --- Wagtail API v2 router -------------------------------------------------------------

ROUTER_URL = "/api/v2/recommendations/"


def test_router_endpoint_lists_pages_like_the_pages_endpoint(client, articles):
    response = client.get(ROUTER_URL, {"limit": "2"})
    assert response.status_code == 200, response.content
    assert "private" in response["Cache-Control"] and "Cookie" in response["Vary"]
    data = response.json()
    assert data["meta"]["total_count"] == 2 and data["feed"] == "default"
    item = data["items"][0]
    pages_item = client.get(f"/api/v2/pages/{item['id']}/").json()
    assert item["meta"]["detail_url"] == f"http://localhost/api/v2/pages/{item['id']}/"
    assert item["meta"]["html_url"] == pages_item["meta"]["html_url"]
    assert item["meta"]["type"] == "testapp.ArticlePage" and item["title"]
    assert item["recommendation"]["rank"] == 1
    shown = read_list_token(data["list_token"])
    assert shown["page_ids"] == [entry["id"] for entry in data["items"]]
    # The pages endpoint still owns pages: its own listing links to itself.
    listing = client.get("/api/v2/pages/").json()
    assert all("/api/v2/pages/" in entry["meta"]["detail_url"] for entry in listing["items"])


def test_router_endpoint_fields_similar_and_errors(client, articles):
    here = articles[0]
    data = client.get(f"{ROUTER_URL}similar/{here.pk}/", {"fields": "_,title"}).json()
    assert data["feed"] == "similar" and data["items"]
    # As in the pages listing, "_" starts from no fields at all (not even id).
    assert all(set(item) == {"title", "recommendation"} for item in data["items"])
    assert here.pk not in read_list_token(data["list_token"])["page_ids"]
    assert client.get(ROUTER_URL, {"limit": "x"}).status_code == 400
    assert client.get(ROUTER_URL, {"fields": "nonsense"}).status_code == 400
    assert client.get(ROUTER_URL, {"bogus": "1"}).status_code == 400
    response = client.get(ROUTER_URL, {"feed": "nope"})
    assert response.status_code == 404 and response.json()["message"]
    assert client.get(f"{ROUTER_URL}similar/999999/").status_code == 404
    assert client.post(ROUTER_URL).status_code == 405


def test_tracker_config_names_the_api(client, rf, articles):
    html = Template("{% load neural_feed %}{% neural_feed_tracker %}").render(
        Context({"page": articles[0], "request": rf.get("/")})
    )
    config = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
    assert config["recommendationsEndpoint"] == URL
    assert config["similarEndpoint"] + f"{articles[0].pk}/" == similar_url(articles[0].pk)
    assert "data-neural-feed-placeholder" in html and "IntersectionObserver" in html


def test_the_reader_is_the_visitor_cookie_of_the_beacon(client, articles):
    from django.test import TestCase

    from wagtail_neural_feed.tracking import page_token

    read = articles[0]
    beacon = {"page": read.pk, "kind": "view", "token": page_token(read.pk)}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/neural-feed/interactions/", beacon, content_type="application/json"
        )
    assert response.status_code == 201 and "nf_visitor" in client.cookies
    # Already-read pages leave this visitor's list, not a newcomer's.
    mine = [item["id"] for item in client.get(URL).json()["items"]]
    assert read.pk not in mine and len(mine) == len(articles) - 1
    newcomer = client.__class__()
    assert read.pk in [item["id"] for item in newcomer.get(URL).json()["items"]]


def test_router_endpoint_shares_the_rate_limit(client, articles, settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "API_RATE_LIMIT_PER_IP_PER_MINUTE": 1,
    }
    assert client.get(ROUTER_URL).status_code == 200
    response = client.get(ROUTER_URL)
    assert response.status_code == 429 and response.json()["message"]
    assert client.get(URL).status_code == 429  # one budget for both front doors


def test_a_public_context_page_is_checked_in_one_query(rf, articles, django_assert_num_queries):
    from wagtail_neural_feed.api_views import visible_page
    from wagtail_neural_feed.sites import site_for_request

    request = rf.get("/", HTTP_HOST="localhost")
    site_for_request(request)
    Site.get_site_root_paths()  # Wagtail keeps them in the cache
    with django_assert_num_queries(1):
        assert visible_page(request, articles[0].pk).pk == articles[0].pk


def test_a_restricted_section_or_alias_keeps_its_pages_out_as_context(
    client, section, make_article, django_user_model
):
    inside = make_article("Inside", parent=section)
    secret = make_article("Secret")
    PageViewRestriction.objects.create(page=section, restriction_type="login")
    PageViewRestriction.objects.create(page=secret, restriction_type="login")
    # An alias follows its source page's own restrictions (as Wagtail serves it).
    alias = secret.create_alias(parent=section.get_parent(), update_slug="secret-alias")
    for page in (inside, alias):
        assert client.get(URL, {"context": str(page.pk)}).status_code == 404, page.slug
        assert client.get(similar_url(page.pk)).status_code == 404, page.slug
    client.force_login(django_user_model.objects.create_user("member"))
    for page in (inside, alias):
        assert client.get(URL, {"context": str(page.pk)}).status_code == 200, page.slug
