"""``manage.py demo``: one command from a fresh clone to a running, personalised demo site.

First run: migrate, load the articles with their images, embed them, simulate a
month of readers and create an admin account. Later runs find all of that done
and start serving in seconds. Ctrl-C stops the server (and the embedded
PostgreSQL this process started).
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from blog.content import articles, load_content
from blog.feeds import ensure_editors_block, ensure_feeds
from blog.models import ArticlePage
from blog.progress import ProgressBar
from blog.simulation import simulate
from blog.upkeep import start_upkeep
from wagtail_neural_feed.dispatch import celery_configured
from wagtail_neural_feed.encoders import get_encoder
from wagtail_neural_feed.indexing import embed_many, ensure_rows, pending_page_ids
from wagtail_neural_feed.models import Interaction

#: The demo's admin login. For a local demo only: change it before the site is reachable.
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "demo"


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Set up the demo on first run (content, embeddings, simulated readers) and serve it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-serve", action="store_true", help="Prepare, then exit.")
        parser.add_argument("--readers", type=int, default=150, help="Simulated on first run.")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, port: int, host: str, no_serve: bool, readers: int, seed: int, **_):
        started = time.monotonic()
        self.timings: list[tuple[str, float]] = []
        if self.first_run():
            # Load the model while the database work runs: it is needed for embedding.
            threading.Thread(target=get_encoder, name="demo-load-encoder", daemon=True).start()
        self.step("Database migrations", self.migrate)
        self.step("Demo content", self.load_content)
        self.step("Feeds in Wagtail settings", lambda: f"created {ensure_feeds()}")
        self.step("Editors' block on the home page", self.editors_block)
        self.step("Embeddings", self.embed)
        self.step("Simulated readers", lambda: self.simulate(readers, seed))
        self.ensure_admin()
        total = time.monotonic() - started
        self.stdout.write(
            "Ready in {:.1f}s ({}).".format(
                total, ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.timings)
            )
        )
        if no_serve:
            return
        self.serve(host, port)

    def step(self, name: str, work) -> None:
        began = time.monotonic()
        message = work()
        self.timings.append((name.lower(), time.monotonic() - began))
        self.stdout.write(f"{name}: {message}")

    def first_run(self) -> bool:
        """Whether the content still has to be loaded or embedded (cheap to ask)."""
        try:
            return ArticlePage.objects.count() < len(articles()) or bool(pending_page_ids())
        except DatabaseError:  # not migrated yet
            return True

    def migrate(self) -> str:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan:
            return "up to date"
        self.stdout.write(f"Applying {len(plan)} migrations...")
        # System checks would build a second encoder just to look at it; the
        # embedding step below uses (and so checks) the one loading in the background.
        call_command("migrate", interactive=False, verbosity=0, skip_checks=True)
        return f"applied {len(plan)}"

    def editors_block(self) -> str:
        return "added" if ensure_editors_block() else "kept"

    def load_content(self) -> str:
        missing = len(articles()) - ArticlePage.objects.count()
        if missing <= 0:
            return "already loaded"
        created = load_content(progress=ProgressBar(self.stdout, "Articles and images"))
        return f"created {created} articles"

    def embed(self) -> str:
        ensure_rows()
        page_ids = pending_page_ids()
        if not page_ids:
            return "up to date"
        self.stdout.write("Loading the encoder and embedding (in this process)...")
        done = embed_many(page_ids, progress=ProgressBar(self.stdout, "Embedding pages"))
        return f"embedded {done} pages"

    def simulate(self, readers: int, seed: int) -> str:
        if Interaction.objects.exists():
            return "kept the existing interactions"
        result = simulate(
            readers=readers, seed=seed, progress=ProgressBar(self.stdout, "Reader profiles")
        )
        return (
            f"{result.readers} readers, {result.interactions} interactions and "
            f"{result.impressions} list impressions over 30 days"
        )

    def ensure_admin(self) -> None:
        user_model = get_user_model()
        if not user_model.objects.filter(username=ADMIN_USERNAME).exists():
            user_model.objects.create_superuser(ADMIN_USERNAME, "", ADMIN_PASSWORD)
            self.stdout.write(f"Created the admin account {ADMIN_USERNAME!r}.")

    def serve(self, host: str, port: int) -> None:
        base = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
        self.stdout.write(
            self.style.SUCCESS(f"\nSite:  {base}/\nAdmin: {base}/admin/")
            + f"  (user {ADMIN_USERNAME!r}, password {ADMIN_PASSWORD!r}: demo only, "
            "change it before anyone else can reach this site)\nPress Ctrl-C to stop.\n"
        )
        sys.stdout.flush()
        # Ctrl-C (even when started in the background, where SIGINT is ignored) and a
        # plain `kill` both stop the server cleanly, so the embedded PostgreSQL stops too.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        # Without a Celery worker and beat, a thread keeps popularity and profiles fresh.
        stop = None if celery_configured() else start_upkeep()
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False, skip_checks=True)
        except KeyboardInterrupt:
            pass  # runserver turns the first Ctrl-C into SystemExit(0) itself
        finally:
            if stop is not None:
                stop.set()
            self.stdout.write("Stopped.")
