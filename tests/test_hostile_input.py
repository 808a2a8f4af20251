"""Hostile input: bodies that once broke the endpoint, values that were stored meaning
nothing, the rate limit at a window's edge, and command arguments that were accepted."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from tests.test_endpoints import URL, beacon, post
from wagtail_neural_feed import ratelimit
from wagtail_neural_feed.models import Interaction, Reader

#: 1,981 bytes of nested arrays, under the 2,048-byte limit: it used to raise
#: RecursionError in the parser (a 500 with a debug page).
DEEP = b"[" * 990 + b"]" * 990 + b" "


@pytest.fixture
def article(make_article):
    return make_article("Readable")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_the_deeply_nested_body_is_a_400(client):
    assert len(DEEP) == 1981
    response = post(client, DEEP)
    assert response.status_code == 400
    assert "nests deeper" in response.json()["error"]


MALFORMED = [
    ("nested inside the object", None),
    ("not utf-8", b'{"page": "\xff\xfe"}'),
    ("a bare string", b'"view"'),
    ("brackets in a string do not count", None),
    ("a page id beyond bigint", None),
    ("a like with a value", None),
    ("a dwell of 0 seconds", None),
    ("whitespace only", b"   "),
]


def body_for(label, article) -> bytes:
    ok = beacon(article)
    bodies = {
        "nested inside the object": {**ok, "kind": [[[[["view"]]]]]},
        "brackets in a string do not count": {**ok, "kind": "[[[[[[[[[["},
        "a page id beyond bigint": {**ok, "page": 2**70},
        "a like with a value": {**ok, "kind": "like", "value": 3600},
        "a dwell of 0 seconds": {**ok, "kind": "dwell", "value": 0},
    }
    return json.dumps(bodies[label]).encode()


@pytest.mark.parametrize("label,raw", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bodies_are_400_and_store_nothing(client, article, label, raw):
    response = post(client, raw if raw is not None else body_for(label, article))
    assert response.status_code == 400, (label, response.content)
    assert response.json()["error"]
    assert not Interaction.objects.exists() and not Reader.objects.exists()


def test_the_limit_holds_across_a_window_edge():
    """A full burst just before a minute ends and another just after it: the
    second is refused (a fixed window let both through, twice the limit)."""
    allowed = sum(ratelimit.allow("edge", 10, now=59.5) for _ in range(15))
    assert allowed == 10
    after_edge = sum(ratelimit.allow("edge", 10, now=60.5) for _ in range(15))
    assert after_edge == 0
    # Half a window later, half the previous minute has slid out.
    later = sum(ratelimit.allow("edge", 10, now=90.0) for _ in range(15))
    assert later == 5
    # Two windows on, the burst is forgotten.
    assert sum(ratelimit.allow("edge", 10, now=181.0) for _ in range(15)) == 10


def test_refused_requests_do_not_use_up_the_allowance():
    assert sum(ratelimit.allow("steady", 5, now=10.0) for _ in range(50)) == 5
    # The previous minute counted 5, not 50: by its end the client is let back in.
    assert ratelimit.allow("steady", 5, now=119.0)


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post(URL, **extra)


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(settings):
    request = request_from("10.0.0.1", "203.0.113.9")
    assert ratelimit.client_address(request) == "10.0.0.1"
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "TRUSTED_PROXY_COUNT": 1}
    assert ratelimit.client_address(request) == "203.0.113.9"
    # A client's own forged entries sit left of what the proxy appended.
    assert ratelimit.client_address(request_from("10.0.0.1", "1.2.3.4, 203.0.113.9")) == (
        "203.0.113.9"
    )
    assert ratelimit.client_address(request_from("10.0.0.1", "not-an-ip")) == "10.0.0.1"
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "TRUSTED_PROXY_COUNT": 2}
    chain = "1.2.3.4, 203.0.113.9, 10.0.0.2"  # client, then the first proxy
    assert ratelimit.client_address(request_from("10.0.0.1", chain)) == "203.0.113.9"


def test_clients_behind_a_trusted_proxy_get_their_own_limit(client, article, settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "RATE_LIMIT_PER_IP_PER_MINUTE": 2,
        "TRUSTED_PROXY_COUNT": 1,
    }
    statuses = []
    for address in ("203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"):
        client.cookies.clear()
        response = post(client, beacon(article), HTTP_X_FORWARDED_FOR=address)
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429, 201]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    "args,message",
    [
        (("neural_feed_embed", "--batch-size", "-5"), "must be 1 or more"),
        (("neural_feed_embed", "--batch-size", "0"), "must be 1 or more"),
        (("neural_feed_embed", "--page-type", "garbage"), "use app_label.ModelName"),
        (("neural_feed_embed", "--page-type", "testapp.Nope"), "testapp.Nope"),
        (("neural_feed_explain", "--limit", "-1"), "must be 1 or more"),
    ],
)
def test_loose_command_arguments_are_errors(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_explain_refuses_a_draft_or_a_page_that_is_not_recommendable(make_article, home):
    draft = make_article("Draft", live=False)
    with pytest.raises(CommandError, match="not live"):
        run("neural_feed_explain", "--page", str(draft.pk), "--no-analyze")
    from tests.testapp.models import PlainPage

    plain = home.add_child(instance=PlainPage(title="Plain", slug="plain"))
    with pytest.raises(CommandError, match="not recommendable"):
        run("neural_feed_explain", "--page", str(plain.pk), "--no-analyze")


def test_forget_names_the_reader_it_forgot_or_the_one_it_could_not_find(db):
    unknown = str(uuid.uuid4())
    with pytest.raises(CommandError, match=f"No reader for --visitor '{unknown}'"):
        run("neural_feed_forget", "--visitor", unknown)
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    output = run("neural_feed_forget", "--visitor", str(reader.visitor_id))
    assert f"Forgot reader {reader.pk}:" in output
    assert not Reader.objects.exists()
