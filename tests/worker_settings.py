"""Test settings for a worker in another process: the test database (DATABASE_URL), and an
encoder slow enough that the worker is still holding its message when it is killed."""

from tests.settings import *  # noqa: F403

WAGTAIL_NEURAL_FEED = {
    **WAGTAIL_NEURAL_FEED,  # noqa: F405
    "ENCODER": "tests.test_worker_killed.VerySlowEncoder",
}
