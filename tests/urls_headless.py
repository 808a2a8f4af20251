"""A URLconf without Wagtail's serve view (a headless site)."""

urlpatterns: list = []
