"""Include in your URLconf: ``path("neural-feed/", include("wagtail_neural_feed.urls"))``."""

from django.urls import path

from . import views

app_name = "wagtail_neural_feed"

urlpatterns = [
    path("interactions/", views.interactions, name="interactions"),
]
