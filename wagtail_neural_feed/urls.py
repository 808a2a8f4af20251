"""Include in your URLconf: ``path("neural-feed/", include("wagtail_neural_feed.urls"))``."""

from django.urls import path

from . import api_views, views

app_name = "wagtail_neural_feed"

urlpatterns = [
    path("interactions/", views.interactions, name="interactions"),
    path("recommendations/", api_views.recommendations, name="recommendations"),
    path("similar/<str:page_id>/", api_views.similar, name="similar"),
]
