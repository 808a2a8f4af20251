"""Create a small demo site with posts on a few topics, published (so they get embedded)."""

from django.core.management.base import BaseCommand
from wagtail.models import Page, Site

from blog.models import BlogPage, HomePage
from wagtail_neural_feed.dispatch import wait_for_jobs
from wagtail_neural_feed.indexing import embed_pending
from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding

POSTS = [
    (
        "Watching the Perseid meteor shower",
        "Find a dark sky, let your eyes adjust and look northeast.",
    ),
    (
        "Choosing a first telescope",
        "Aperture matters more than magnification for seeing faint galaxies.",
    ),
    ("The phases of the Moon", "Why the Moon waxes and wanes as it orbits the Earth."),
    (
        "Sourdough for beginners",
        "Feed your starter, fold the dough and bake in a hot cast-iron pot.",
    ),
    (
        "A weeknight tomato sauce",
        "Garlic, olive oil and good tomatoes simmered for twenty minutes.",
    ),
    (
        "Roasting vegetables evenly",
        "Cut to the same size, spread on a tray and roast at high heat.",
    ),
    (
        "How the offside rule works",
        "An attacker is offside if nearer the goal line than the ball and defender.",
    ),
    (
        "Pressing tactics in modern football",
        "Teams win the ball high up the pitch to create chances.",
    ),
    (
        "Training for a first marathon",
        "Build weekly mileage slowly and include one long run a week.",
    ),
]


class Command(BaseCommand):
    help = "Create demo blog posts (idempotent)."

    def handle(self, *args, **options):
        root = Page.get_first_root_node()
        home = HomePage.objects.first()
        if home is None:
            home = root.add_child(instance=HomePage(title="Neural feed demo", slug="demo-home"))
            Site.objects.update_or_create(
                is_default_site=True, defaults={"root_page": home, "hostname": "localhost"}
            )
        created = 0
        for title, intro in POSTS:
            if BlogPage.objects.filter(title=title).exists():
                continue
            post = BlogPage(title=title, intro=f"<p>{intro}</p>", live=False)
            home.add_child(instance=post)
            post.save_revision().publish()
            created += 1
        # Publishing queued the embeddings (to Celery, or this process's thread);
        # hand them over, then embed whatever is still pending here.
        wait_for_jobs()
        embed_pending()
        ready = PageEmbedding.objects.filter(live=True, status=EmbeddingStatus.READY).count()
        pending = PageEmbedding.objects.filter(live=True).exclude(status=EmbeddingStatus.READY)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {created} post(s); {ready} page(s) embedded, {pending.count()} not (yet)."
            )
        )
