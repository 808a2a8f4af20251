"""System checks report misconfiguration with stable ids."""

from django.test import override_settings

from wagtail_neural_feed import checks


def ids(messages):
    return [message.id for message in messages]


def test_database_check_passes_on_postgresql_with_pgvector(db):
    assert checks.check_database(databases=["default"]) == []


def test_pgvector_version_parsing():
    assert checks._version_tuple("0.8.5") >= checks.MIN_PGVECTOR
    assert checks._version_tuple("0.7.4") < checks.MIN_PGVECTOR


def test_unimportable_encoder_is_E003():
    with override_settings(WAGTAIL_NEURAL_FEED={"ENCODER": "missing.module.Encoder"}):
        assert ids(checks.check_encoder()) == ["wagtail_neural_feed.E003"]
    assert checks.check_encoder() == []


def test_dimension_mismatch_is_E004(db):
    assert checks.check_dimensions(databases=["default"]) == []
    with override_settings(
        WAGTAIL_NEURAL_FEED={
            "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
            "ENCODER_OPTIONS": {"dimensions": 8},
        }
    ):
        messages = checks.check_dimensions(databases=["default"])
    assert ids(messages) == ["wagtail_neural_feed.E004"]
    assert "DIMENSIONS" in messages[0].hint and "8" in messages[0].hint


def test_unknown_dispatch_is_E005_and_celery_without_broker_is_W001():
    with override_settings(WAGTAIL_NEURAL_FEED={"DISPATCH": "carrier-pigeon"}):
        assert ids(checks.check_dispatch()) == ["wagtail_neural_feed.E005"]
    with override_settings(WAGTAIL_NEURAL_FEED={"DISPATCH": "celery"}):
        assert ids(checks.check_dispatch()) == ["wagtail_neural_feed.W001"]


def feeds_setting(*paths):
    return override_settings(
        WAGTAIL_NEURAL_FEED={
            "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
            "DISPATCH": "inline",
            "FEEDS": list(paths),
        }
    )


def test_valid_feeds_pass_the_feed_check():
    with feeds_setting("tests.feeds.ArticlesFeed"):
        assert checks.check_feeds() == []


def test_broken_feeds_are_E006():
    for path, words in [
        ("tests.feeds.OrphanFeed", "parent feed 'no-such-feed'"),
        ("tests.feeds.PlainPagesFeed", "no recommendable"),
        ("tests.feeds.UnknownTypeFeed", "does not exist"),
        ("tests.feeds.BadWeightFeed", "freshness_weight"),
        ("tests.feeds.NoSuchFeed", "cannot be imported"),
    ]:
        with feeds_setting(path):
            messages = checks.check_feeds()
        assert ids(messages) == ["wagtail_neural_feed.E006"], path
        assert words in messages[0].msg, (path, messages[0].msg)


def test_hot_tier_too_short_for_a_feed_is_W002():
    with feeds_setting("tests.feeds.ArticlesFeed", "tests.feeds.SlowFreshnessFeed"):
        messages = checks.check_hot_tier()
        assert ids(messages) == ["wagtail_neural_feed.W002"]
        assert "'slow-freshness'" in messages[0].msg
        assert "300" in messages[0].hint  # five 60-day half-lives
    with override_settings(
        WAGTAIL_NEURAL_FEED={"FEEDS": ["tests.feeds.SlowFreshnessFeed"], "HOT_FRESH_DAYS": 300}
    ):
        assert checks.check_hot_tier() == []


def test_unusable_ranking_numbers_are_E007():
    assert checks.check_ranking_settings() == []
    bad = {
        "HNSW_EF_SEARCH": 0,
        "CANDIDATE_WINDOW": "1000",
        "EXACT_BELOW_PAGES": -1,
        "HOT_FRESH_DAYS": 0,
        "HOT_POPULARITY": 1.5,
    }
    with override_settings(WAGTAIL_NEURAL_FEED=bad):
        messages = checks.check_ranking_settings()
        assert ids(messages) == ["wagtail_neural_feed.E007"] * 5
        named = " ".join(message.msg for message in messages)
        assert all(f"['{name}']" in named for name in bad)
        assert checks.check_hot_tier() == []  # the bad HOT_FRESH_DAYS is E007's to report
    with override_settings(WAGTAIL_NEURAL_FEED={"EXACT_BELOW_PAGES": 0, "HOT_FRESH_DAYS": 30}):
        assert checks.check_ranking_settings() == []
