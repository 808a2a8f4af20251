from django.apps import AppConfig


class WagtailNeuralFeedConfig(AppConfig):
    name = "wagtail_neural_feed"
    label = "wagtail_neural_feed"
    verbose_name = "Neural feed"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # checks registers the system checks; tracking merges a visitor into
        # the user on login; sources follow a site's own "likes" models.
        from . import checks, sources, tracking  # noqa: F401
        from .signals import register_signal_handlers

        register_signal_handlers()
