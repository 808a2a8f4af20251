import django.contrib.postgres.search
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_neural_feed", "0009_evaluation_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="pageembedding",
            name="lexemes",
            field=django.contrib.postgres.search.SearchVectorField(blank=True, null=True),
        ),
    ]
