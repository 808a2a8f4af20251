from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("neural-feed/", include("wagtail_neural_feed.urls")),
    path("", include(wagtail_urls)),
]
