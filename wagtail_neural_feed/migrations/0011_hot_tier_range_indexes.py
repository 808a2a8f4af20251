from django.db import migrations, models


class Migration(migrations.Migration):
    """Ranking reads the hot tier by bonus (newest first), and one site's part of it by path."""

    dependencies = [
        ("wagtail_neural_feed", "0010_embedding_lexemes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="hotpage",
            index=models.Index(fields=["-first_published_at"], name="neural_feed_hot_fresh"),
        ),
        migrations.AddIndex(
            model_name="hotpage",
            index=models.Index(fields=["path"], name="neural_feed_hot_path"),
        ),
    ]
