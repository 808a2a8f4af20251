"""A content model for django-neural-feed, so the benchmark can run its ``get_feed``
on the same vectors, readers and filters as ours."""

from django.db import models
from django_neural_feed.mixins import NeuralHnswMixin, NeuralRecommendMixin


class Item(NeuralRecommendMixin):
    title = models.CharField(max_length=200)
    section = models.IntegerField(db_index=True)
    published_at = models.DateTimeField()
    # Not "popularity": get_feed annotates a value of that name.
    engagement = models.FloatField(default=0.0)

    class Meta(NeuralHnswMixin.Meta):
        abstract = False
        app_label = "dnf_app"

    def get_ready_text(self) -> str:
        return self.title
