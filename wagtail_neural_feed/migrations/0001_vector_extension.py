from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """The vector extension, on its own so a DBA can create it ahead of time."""

    dependencies = []

    operations = [VectorExtension()]
