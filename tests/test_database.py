import pytest

from wagtail_neural_feed.database import parse_database_url
from wagtail_neural_feed.exceptions import NeuralFeedConfigurationError


def test_parse_tcp_url():
    config = parse_database_url("postgresql://bob:s%40cret@db.local:5433/site")
    assert config["NAME"] == "site"
    assert (config["USER"], config["PASSWORD"]) == ("bob", "s@cret")
    assert (config["HOST"], config["PORT"]) == ("db.local", "5433")


def test_parse_socket_url():
    config = parse_database_url("postgresql://postgres:@/postgres?host=/tmp/pg")
    assert config["HOST"] == "/tmp/pg"
    assert config["NAME"] == "postgres"


def test_rejects_other_databases():
    with pytest.raises(NeuralFeedConfigurationError, match="DATABASE_URL"):
        parse_database_url("mysql://x@y/z")
