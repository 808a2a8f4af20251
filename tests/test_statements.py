"""Our own statements: native placeholders, binary vectors both ways, preparation, logging."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wagtail_neural_feed.statements import (
    QueryVector,
    native_placeholders,
    parse_vector,
    run_statement,
)


def test_named_placeholders_become_numbered_once_per_name():
    sql, names = native_placeholders("SELECT %(a)s, %(b)s::int, %(a)s WHERE x LIKE 'p%%'", True)
    assert sql == "SELECT $1, $2::int, $1 WHERE x LIKE 'p%'"
    assert names == ("a", "b")


def test_positional_placeholders_are_numbered_in_order():
    assert native_placeholders("SELECT %s, %s", False) == ("SELECT $1, $2", ())


def test_mixed_placeholders_are_refused():
    with pytest.raises(ValueError, match="only"):
        native_placeholders("SELECT %(a)s, %s", True)


@pytest.mark.django_db
def test_values_and_vectors_round_trip_in_binary():
    vector = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    (row,) = run_statement(
        "SELECT %(v)s::vector, %(v)s::vector <=> '[1,0,0]'::vector, %(n)s::int + 1, "
        "%(t)s || '%%', ARRAY[%(t)s]",
        {"v": QueryVector(vector), "n": 41, "t": "x"},
        binary=True,
    )
    assert isinstance(row[0], bytes)
    assert np.array_equal(parse_vector(row[0]), vector)
    expected_distance = 1 - vector[0] / np.linalg.norm(vector)
    assert row[1] == pytest.approx(expected_distance, abs=1e-6)
    assert row[2:] == (42, "x%", ["x"])


@pytest.mark.django_db
def test_text_results_parse_the_same():
    vector = np.array([1.5, 2.0], dtype=np.float32)
    (row,) = run_statement("SELECT %s::vector", [QueryVector(vector)])
    assert isinstance(row[0], str)
    assert np.array_equal(parse_vector(row[0]), vector)


@pytest.mark.django_db
def test_statements_are_prepared_and_logged():
    sql = "SELECT %(n)s::int * 2 /* neural-feed statement test */"
    with CaptureQueriesContext(connection) as captured:
        assert run_statement(sql, {"n": 21}) == [(42,)]
        assert run_statement(sql, {"n": 5}) == [(10,)]
    assert [query["sql"] for query in captured] == [sql, sql]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE '%%neural-feed statement test%%'"
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_errors_come_through_djangos_exceptions():
    from django.db import ProgrammingError

    with pytest.raises(ProgrammingError):
        run_statement("SELECT no_such_column FROM (SELECT 1) x", {})


@pytest.mark.django_db
def test_nothing_is_prepared_when_prepared_statements_are_off(settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "PREPARED_STATEMENTS": False}
    sql = "SELECT %(n)s::int + 1 /* neural-feed unprepared test */"
    for n in range(5):
        assert run_statement(sql, {"n": n}) == [(n + 1,)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE '%%neural-feed unprepared test%%'"
        )
        assert cursor.fetchone()[0] == 0
