"""The interaction endpoint: good beacons are stored, bad input is a 4xx and stores nothing."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.template import Context, Template
from django.test import TestCase
from wagtail.models import PageViewRestriction

from wagtail_neural_feed.models import Interaction, Reader
from wagtail_neural_feed.tracking import page_token

URL = "/neural-feed/interactions/"


@pytest.fixture
def article(make_article):
    return make_article("Readable")


def post(client, body, content_type="application/json", **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.generic("POST", URL, data, content_type=content_type, **extra)


def beacon(page, **fields):
    return {"page": page.pk, "kind": "view", "token": page_token(page.pk), **fields}


def test_a_view_and_a_dwell_beacon_are_stored(client, article):
    assert post(client, beacon(article)).status_code == 201
    response = post(client, beacon(article, kind="dwell", value=42.5), content_type="text/plain")
    assert response.status_code == 201
    assert sorted(Interaction.objects.values_list("kind", "value")) == [
        ("dwell", 42.5),
        ("view", None),
    ]


def test_like_button_from_a_signed_in_reader(client, article):
    user = User.objects.create_user("fan")
    client.force_login(user)
    assert post(client, beacon(article, kind="like")).status_code == 201
    assert Interaction.objects.get().reader == Reader.objects.get(user=user)


BAD_BODIES = [
    ("malformed JSON", "{not json", 400),
    ("a list", "[1, 2]", 400),
    ("page as string", {"page": "1"}, 400),
    ("page missing", {"page": None}, 400),
    ("page as bool", {"page": True}, 400),
    ("kind as number", {"kind": 3}, 400),
    ("unknown kind", {"kind": "teleport"}, 400),
    ("value as string", {"kind": "dwell", "value": "10"}, 400),
    ("NaN dwell", '{"kind": "dwell", "value": NaN}', 400),
    ("infinite dwell", '{"kind": "dwell", "value": Infinity}', 400),
    ("huge dwell", {"kind": "dwell", "value": 1e12}, 400),
    ("negative dwell", {"kind": "dwell", "value": -5}, 400),
    ("dwell without value", {"kind": "dwell"}, 400),
    ("missing token", {"token": None}, 403),
    ("forged token", {"token": "123:forged"}, 403),
]


@pytest.mark.parametrize("label,change,status", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_input_is_rejected_and_nothing_is_stored(client, article, label, change, status):
    if isinstance(change, str) and change.startswith('{"'):
        # Raw JSON text (NaN, Infinity): add the page and its token.
        prefix = f'{{"page": {article.pk}, "token": "{page_token(article.pk)}", '
        body = prefix + change[1:]
    elif isinstance(change, str):
        body = change
    else:
        body = {**beacon(article), **change}
    response = post(client, body)
    assert response.status_code == status, (label, response.content)
    assert "error" in response.json()
    assert not Interaction.objects.exists() and not Reader.objects.exists()


def test_token_of_another_page_is_refused(client, article, make_article):
    other = make_article("Other")
    response = post(client, {**beacon(article), "token": page_token(other.pk)})
    assert response.status_code == 403
    assert not Interaction.objects.exists()


def test_wrong_method_type_and_size(client, article, settings):
    response = client.get(URL)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert (
        post(client, "page=1", content_type="application/x-www-form-urlencoded").status_code == 415
    )
    huge = json.dumps({**beacon(article), "padding": "x" * 5000})
    response = post(client, huge)
    assert response.status_code == 413 and "error" in response.json()
    assert not Interaction.objects.exists()


def test_unknown_draft_and_private_pages_are_refused(client, make_article):
    draft = make_article("Draft", live=False)
    assert post(client, beacon(draft)).status_code == 404
    missing = {"page": 999999, "kind": "view", "token": page_token(999999)}
    assert post(client, missing).status_code == 404
    private = make_article("Private")
    PageViewRestriction.objects.create(page=private, restriction_type="login")
    assert post(client, beacon(private)).status_code == 403
    assert not Interaction.objects.exists()
    client.force_login(User.objects.create_user("member"))
    assert post(client, beacon(private)).status_code == 201


def test_a_flood_from_one_reader_is_rate_limited(client, article, settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "RATE_LIMIT_PER_MINUTE": 5}
    from django.core.cache import cache

    cache.clear()
    client.cookies["nf_visitor"] = "6f1c1c9e-3b0e-4a8e-9a53-2f7e0c1d4b11"
    statuses = [post(client, beacon(article)).status_code for _ in range(8)]
    assert statuses[:5] == [201] * 5
    assert statuses[5:] == [429] * 3
    assert Interaction.objects.count() == 5
    cache.clear()


def test_a_flood_from_one_address_is_rate_limited(client, article, settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "RATE_LIMIT_PER_IP_PER_MINUTE": 3,
    }
    from django.core.cache import cache

    cache.clear()
    statuses = []
    for _ in range(5):
        client.cookies.clear()  # a new "visitor" each time, same address
        statuses.append(post(client, beacon(article)).status_code)
    assert statuses == [201, 201, 201, 429, 429]
    cache.clear()


def test_do_not_track_answers_204_and_stores_nothing(client, article):
    response = post(client, beacon(article), HTTP_DNT="1")
    assert response.status_code == 204
    assert not Interaction.objects.exists() and "nf_visitor" not in response.cookies


def test_tracker_tag_renders_a_beacon_for_the_page(rf, article, home):
    html = Template("{% load neural_feed %}{% neural_feed_tracker %}").render(
        Context({"page": article, "request": rf.get("/")})
    )
    assert "navigator.sendBeacon" in html
    config = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
    assert config["page"] == article.pk
    assert config["endpoint"] == URL
    assert config["token"] == page_token(article.pk)
    # Without a page that takes part, only lists are reported: no view, no token.
    for context in ({}, {"page": home}):
        html = Template("{% load neural_feed %}{% neural_feed_tracker %}").render(Context(context))
        config = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
        assert config["page"] is None and config["token"] == ""


CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36"


def test_views_on_serve_are_off_by_default_then_recorded_for_people(client, article, settings):
    url = article.url
    assert client.get(url, HTTP_USER_AGENT=CHROME).status_code == 200
    assert not Interaction.objects.exists()
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "RECORD_VIEWS_ON_SERVE": True}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.get(url, HTTP_USER_AGENT=CHROME)
    assert response.status_code == 200
    assert list(Interaction.objects.values_list("kind", flat=True)) == ["view"]
    # Bots, missing agents and Do Not Track are skipped; the page is still served.
    assert client.get(url, HTTP_USER_AGENT="Googlebot/2.1").status_code == 200
    assert client.get(url).status_code == 200
    assert client.get(url, HTTP_USER_AGENT=CHROME, HTTP_DNT="1").status_code == 200
    assert Interaction.objects.count() == 1


def test_a_failing_recorder_never_breaks_serving(client, article, settings, monkeypatch):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "RECORD_VIEWS_ON_SERVE": True}
    from wagtail_neural_feed import tracking

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(tracking, "record_interaction", broken)
    assert client.get(article.url, HTTP_USER_AGENT=CHROME).status_code == 200
