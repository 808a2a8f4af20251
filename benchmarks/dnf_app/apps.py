from django.apps import AppConfig


class DnfAppConfig(AppConfig):
    name = "benchmarks.dnf_app"
    label = "dnf_app"
    default_auto_field = "django.db.models.BigAutoField"
