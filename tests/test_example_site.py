"""The README's demo command, run as a person would: a fresh database, then a second start."""

from __future__ import annotations

import re

import pytest

from tests.demo_process import Demo, demo_env, manage

HASHING = "wagtail_neural_feed.encoders.HashingEncoder"


def links(html: str, feed: str) -> list[str]:
    """The article links of the rendered list of ``feed``."""
    match = re.search(
        # The shared list contract: a signed list token on the section, page ids on the links.
        r'<section class="neural-feed[^"]*" data-neural-feed-list="[^"]+" '
        rf'data-feed="{feed}".*?</section>',
        html,
        re.S,
    )
    assert match, f"no rendered {feed!r} list"
    return re.findall(r'href="([^"]+)" data-neural-feed-page="\d+"', match.group(0))


@pytest.fixture(scope="module")
def first_start(tmp_path_factory):
    """The demo started for the first time on a fresh database (HashingEncoder for speed)."""
    folder = tmp_path_factory.mktemp("demo")
    demo = Demo(demo_env(folder, encoder=HASHING), folder / "first.log", "--readers", "40")
    try:
        demo.start()
        yield demo
    finally:
        demo.stop()


def test_first_start_serves_the_site(first_start):
    status, home = first_start.get("/")
    assert status == 200
    recommended = links(home, "for-you")
    assert recommended, "the home page's recommendation list is empty"
    assert links(home, "popular")
    status, article = first_start.get(recommended[0])
    assert status == 200
    assert "More like this" in article and links(article, "similar")
    assert 'id="neural-feed-config"' in article  # the tracker
    assert "neuralFeed.send(button.dataset.kind)" in article  # like / dislike
    status, section = first_start.get("/gardening/")
    assert status == 200 and "Latest in Gardening" in section
    assert links(section, "section-gardening")  # a feed kept in Wagtail settings
    feeds = manage(
        "shell",
        "-c",
        "from wagtail_neural_feed.models.admin_feeds import AdminFeed;"
        "print(sorted(AdminFeed.objects.values_list('slug', flat=True)))",
        env=first_start.env,
    )
    assert "'for-you'" in feeds and "'popular'" in feeds and "'section-gardening'" in feeds
    status, login = first_start.get("/admin/login/")
    assert status == 200 and 'name="password"' in login
    output = first_start.output()
    assert "created 152 articles" in output
    assert "embedded 152 pages" in output
    assert "40 readers" in output
    assert "user 'admin', password 'demo'" in output


def test_ctrl_c_stops_it_and_a_second_start_reuses_the_data(first_start, tmp_path):
    assert first_start.stop() == 0
    assert "Stopped." in first_start.output()
    again = Demo(first_start.env, tmp_path / "second.log")
    try:
        seconds = again.start()
        assert again.get("/")[0] == 200
    finally:
        again.stop()
    second = again.output()
    # The second start found everything done and did none of the first-run work.
    for done in (
        "Database migrations: up to date",
        "Demo content: already loaded",
        "Embeddings: up to date",
        "Simulated readers: kept the existing interactions",
    ):
        assert done in second, second
    print(f"second start answered after {seconds:.1f}s")


FINGERPRINT = """
import hashlib
from blog.simulation import visitor_ids
from wagtail_neural_feed.models import Impression, Interaction
readers = visitor_ids({seed}, 25)
rows = Interaction.objects.filter(reader__visitor_id__in=readers)
played = rows.order_by("reader__visitor_id", "id").values_list("page__slug", "kind", "value")
lists = Impression.objects.filter(reader__visitor_id__in=readers)
lists = lists.order_by("reader__visitor_id", "id")
shown = lists.values_list("feed", "page_ids", "clicked_page_ids")
clicks = lists.exclude(clicked_page_ids=[]).count()
digest = hashlib.sha256(repr((list(played), list(shown))).encode()).hexdigest()
print(rows.count(), lists.count(), clicks, digest)
"""


def test_simulated_readers_are_deterministic_per_seed(first_start):
    first_start.stop()
    env = first_start.env

    def run(seed: int) -> str:
        manage("simulate_readers", "--readers", "25", "--seed", str(seed), env=env)
        output = manage("shell", "-c", FINGERPRINT.format(seed=seed), env=env)
        return output.strip().splitlines()[-1]

    first = run(7)
    interactions, impressions, clicks = (int(part) for part in first.split()[:3])
    assert interactions > 25  # every reader did something, most of them more than once
    assert 0 < clicks < impressions  # lists were shown, some of them clicked
    assert run(7) == first  # rerunning a seed replaces its readers with the same month
    assert run(8).split()[-1] != first.split()[-1]
