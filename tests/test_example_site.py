"""The example site migrates, seeds demo content and embeds it, from a clean database."""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings

MANAGE = Path(__file__).resolve().parent.parent / "example_site" / "manage.py"


def manage(*args: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def fresh_database_url() -> str:
    """A new, empty database on the server the tests use."""
    db = settings.DATABASES["default"]
    name = f"example_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"],
        port=db["PORT"] or None,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = f"{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}"
    if db["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{name}?host={quote(db['HOST'])}"
    return f"postgresql://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def test_example_site_runs_end_to_end():
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url(),
        "NEURAL_FEED_ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
        # The package of this checkout, not whichever one is installed.
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(MANAGE.parent.parent), os.environ.get("PYTHONPATH")])
        ),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage("migrate", "--verbosity", "0", env=env)
    manage("check", "--database", "default", env=env)
    assert "Created 9 post(s); 9 page(s) embedded, 0 not (yet)." in manage("seed_demo", env=env)
    assert "Would embed 0 page(s)" in manage("neural_feed_embed", "--dry-run", env=env)
    page = manage(
        "shell",
        "-c",
        "from django.test import Client; r = Client().get('/'); print(r.status_code)",
        env=env,
    )
    assert page.strip().endswith("200")
    post = manage(
        "shell",
        "-c",
        "from django.test import Client; from blog.models import BlogPage; "
        "r = Client().get(BlogPage.objects.live().first().url); "
        "print(r.status_code, r.content.count(b'data-neural-feed-page='))",
        env=env,
    )
    status, links = post.split()[-2:]
    assert status == "200" and int(links) == 8  # 4 similar + 4 recommended
