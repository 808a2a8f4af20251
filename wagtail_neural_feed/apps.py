from django.apps import AppConfig


class WagtailNeuralFeedConfig(AppConfig):
    name = "wagtail_neural_feed"
    label = "wagtail_neural_feed"
    verbose_name = "Neural feed"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: they need the app registry ready.
        from . import checks  # noqa: F401  (registers the system checks)
        from .signals import register_signal_handlers

        register_signal_handlers()
