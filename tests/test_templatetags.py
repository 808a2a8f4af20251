"""The template tags, in a real page (tests/templates/testapp/listing_page.html) and alone."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory
from wagtail.models import PageViewRestriction

from tests.helpers import axis, set_embedding
from tests.test_blocks import linked
from tests.testapp.models import ListingPage
from wagtail_neural_feed.models import Reader, ReaderProfile
from wagtail_neural_feed.tracking import read_list_token


@pytest.fixture
def articles(make_article):
    pages = [make_article(f"Story {n}") for n in range(6)]
    for n, page in enumerate(pages):
        set_embedding(page, axis(n))
    return pages


@pytest.fixture
def listing(home, articles):
    page = ListingPage(title="Listing", slug="listing")
    home.add_child(instance=page)
    return page


def section_of(html: str, element_id: str) -> str:
    return re.search(rf'<ol id="{element_id}".*?</ol>', html, re.S).group(0)


def get(client, page):
    response = client.get(page.url, HTTP_USER_AGENT="Mozilla/5.0")
    assert response.status_code == 200
    return response, response.content.decode()


def test_assignment_and_rendering_tags_in_a_page(client, listing, articles):
    response, html = get(client, listing)
    assigned = section_of(html, "assigned")
    ids = [int(pk) for pk in re.findall(r'data-id="(\d+)"', assigned)]
    assert len(ids) == 3
    assert re.findall(r'data-rank="(\d+)"', assigned) == ["1", "2", "3"]
    token = re.search(r'data-token="([^"]+)"', assigned).group(1)
    assert read_list_token(token)["page_ids"] == ids
    assert 'data-feed="default"' in assigned
    rendered = html.split("</ol>", 1)[1]
    assert "Picked for you" in rendered and "neural-feed--cards" in rendered
    assert len(linked(rendered.split('<ol id="similar"')[0])) == 4
    # The listing page has no embedding: "More like this" falls back to fresh pages.
    similar = [int(pk) for pk in re.findall(r'data-id="(\d+)"', section_of(html, "similar"))]
    assert len(similar) == 2 and listing.pk not in similar
    assert 'data-neural-feed-placeholder data-feed="" data-limit="5"' in html
    assert "Cookie" in response["Vary"]


def test_visitor_with_history_and_logged_in_user(client, listing, articles, section, make_article):
    visitor = uuid.uuid4()
    reader = Reader.objects.create(visitor_id=visitor)
    ReaderProfile.objects.create(reader=reader, feed="default", vector=axis(4), sum_vector=axis(4))
    client.cookies["nf_visitor"] = str(visitor)
    response, html = get(client, listing)
    first = re.findall(r'data-id="(\d+)"', section_of(html, "assigned"))[0]
    assert int(first) == articles[4].pk
    assert "private" in response["Cache-Control"]

    members = make_article("Members", parent=section)
    set_embedding(members, axis(4))
    PageViewRestriction.objects.create(page=section, restriction_type="login")
    client.cookies.pop("nf_visitor")
    _, html = get(client, listing)
    assert str(members.pk) not in re.findall(r'data-id="(\d+)"', section_of(html, "assigned"))
    client.force_login(User.objects.create_user("member"))
    response, html = get(client, listing)
    assert str(members.pk) in re.findall(r'data-id="(\d+)"', section_of(html, "assigned"))
    assert "private" in response["Cache-Control"]


def render(source: str, **context) -> str:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    return Template("{% load neural_feed %}" + source).render(
        Context({"request": request, **context})
    )


def test_the_context_page_defaults_to_page_and_is_never_listed(articles):
    html = render(
        "{% recommended_pages limit=5 as pages %}{% for p in pages %}[{{ p.pk }}]{% endfor %}",
        page=articles[0],
    )
    assert f"[{articles[0].pk}]" not in html and html.count("[") == 5
    html = render(
        "{% recommended_pages limit=6 context=None as pages %}{{ pages|length }}",
        page=articles[0],
    )
    assert html == "6"


def test_similar_pages_tag_and_its_list(articles):
    set_embedding(articles[2], axis(1) + 0.1 * axis(2))
    html = render(
        "{% similar_pages p limit=1 as similar %}{% for s in similar %}{{ s.pk }}{% endfor %}",
        p=articles[1],
    )
    assert html == str(articles[2].pk)
    html = render("{% similar_pages_list p limit=1 layout='cards' %}", p=articles[1])
    assert linked(html) == [articles[2].pk] and "More like this" in html


def test_picks_through_the_tag(articles):
    html = render(
        "{% recommended_pages_list limit=3 picks=picks context=None %}",
        picks=[articles[5], articles[3]],
    )
    assert linked(html)[:2] == [articles[5].pk, articles[3].pk]


def test_unknown_feed_renders_nothing_and_bad_arguments_are_template_errors(articles):
    assert render("{% recommended_pages_list feed='nope' %}").strip() == ""
    assert render("{% recommended_pages feed='nope' as pages %}{{ pages|length }}") == "0"
    with pytest.raises(TemplateSyntaxError, match="unknown arguments colour"):
        render("{% recommended_pages_list colour='red' %}")


def test_the_jinja2_globals_render_the_same_lists(articles):
    from django.template import engines
    from django.template.backends.jinja2 import Jinja2

    engine = Jinja2(
        {
            "NAME": "jinja2",
            "DIRS": [],
            "APP_DIRS": False,
            "OPTIONS": {"extensions": ["wagtail_neural_feed.jinja2tags.neural_feed"]},
        }
    )
    assert engines  # the Django engine is untouched
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    source = (
        "{% set pages = recommended_pages(limit=3) %}"
        "{% for p in pages %}[{{ p.pk }}]{% endfor %}|{{ recommended_pages_list(limit=2) }}"
    )
    html = engine.from_string(source).render({"page": articles[0]}, request=request)
    assigned, rendered = html.split("|", 1)
    assert assigned.count("[") == 3 and f"[{articles[0].pk}]" not in assigned
    assert len(linked(rendered)) == 2 and "<section" in rendered
