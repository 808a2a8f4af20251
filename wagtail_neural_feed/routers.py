"""A database router that keeps this app's own ORM queries on the primary.

The ranking reads ``READ_DATABASE`` by itself; it needs no router. This
router is for sites whose own router sends *every* read to a replica (the
"primary / replica" example in Django's documentation): that would also
send the reads behind our writes there (a profile update reading the
reader's new interactions, a beacon finding its reader, indexing reading
the rows it is about to update), and on a lagging replica a profile update
would miss the like it was scheduled for. Put this router first::

    DATABASE_ROUTERS = [
        "wagtail_neural_feed.routers.NeuralFeedRouter",
        "mysite.routers.PrimaryReplicaRouter",
    ]
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

APP_LABEL = "wagtail_neural_feed"


class NeuralFeedRouter:
    """Reads and writes of wagtail_neural_feed's models go to the default database;
    every other decision is left to the routers after it."""

    def db_for_read(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS if model._meta.app_label == APP_LABEL else None

    def db_for_write(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS if model._meta.app_label == APP_LABEL else None
