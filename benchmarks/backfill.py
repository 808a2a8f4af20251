"""Embedding backfill throughput vs the raw model on the same texts.

    python -m benchmarks.backfill [--pages 2000] [--batch-size 64]

Creates N article pages (once; reused on later runs), then times
(a) the raw sentence-transformers model encoding exactly the texts those pages
embed, and (b) ``neural_feed_embed --rebuild`` doing the whole job: reading
pages, extracting text, encoding, writing vectors. Target: (b) >= 90 % of (a).
"""

from __future__ import annotations

import argparse
import io
import random
import time

from benchmarks.common import print_table, setup_django

TOPICS = {
    "astronomy": "planet orbit telescope galaxy comet nebula star moon eclipse cosmic",
    "cooking": "recipe oven flour butter simmer garlic sauce bake roast spice",
    "football": "match goal striker league referee penalty keeper season transfer stadium",
    "finance": "market shares inflation interest bond investor dividend budget bank tax",
    "gardening": "soil seeds compost prune bloom roses watering shade hedge harvest",
}
FILLER = ["the", "a", "of", "and", "to", "in", "is", "for", "with", "on", "as", "by", "this"]


def article_text(rng: random.Random, topic: str, words: int) -> str:
    vocab = TOPICS[topic].split()
    out = []
    for _ in range(words):
        out.append(rng.choice(vocab) if rng.random() < 0.4 else rng.choice(FILLER))
    return " ".join(out).capitalize() + "."


def ensure_pages(count: int) -> list[int]:
    from django.utils import timezone
    from wagtail.models import Page

    from tests.testapp.models import ArticlePage, HomePage

    existing = list(ArticlePage.objects.order_by("pk").values_list("pk", flat=True)[:count])
    if len(existing) >= count:
        return existing
    root = Page.get_first_root_node()
    home = HomePage.objects.first()
    if home is None:
        home = root.add_child(instance=HomePage(title="Bench", slug="bench"))
    rng = random.Random(len(existing))
    now = timezone.now()
    for index in range(len(existing), count):
        topic = rng.choice(list(TOPICS))
        home.add_child(
            instance=ArticlePage(
                title=f"{topic.title()} story {index}",
                slug=f"story-{index}",
                search_description=article_text(rng, topic, 12),
                intro=f"<p>{article_text(rng, topic, 90)}</p>",
                live=True,
                first_published_at=now,
                last_published_at=now,
            )
        )
        home.refresh_from_db()
    return list(ArticlePage.objects.order_by("pk").values_list("pk", flat=True)[:count])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    setup_django()

    from django.core.management import call_command
    from django.test import override_settings

    from tests.testapp.models import ArticlePage
    from wagtail_neural_feed.encoders import get_encoder

    ids = ensure_pages(args.pages)
    texts = [page.get_embedding_text() for page in ArticlePage.objects.filter(pk__in=ids)]
    encoder = get_encoder()
    model = encoder.model
    model.encode(texts[:64], batch_size=args.batch_size)  # warm up
    tokens = [len(model.tokenizer(t)["input_ids"]) for t in texts]

    raw, ours = [], []
    null = io.StringIO()
    for _ in range(args.repeat):
        started = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
        raw.append(len(texts) / (time.perf_counter() - started))
        with override_settings(
            WAGTAIL_NEURAL_FEED={
                "ENCODER": "wagtail_neural_feed.encoders.SentenceTransformerEncoder",
                "ENCODER_OPTIONS": {"batch_size": args.batch_size},
                "EMBED_BATCH_SIZE": args.batch_size,
                "DISPATCH": "inline",
            }
        ):
            started = time.perf_counter()
            call_command("neural_feed_embed", "--rebuild", stdout=null)
            ours.append(len(ids) / (time.perf_counter() - started))
    best_raw, best_ours = max(raw), max(ours)
    print_table(
        f"Backfill throughput, {len(ids)} pages, median {sorted(tokens)[len(tokens) // 2]} "
        f"tokens/page, batch {args.batch_size}",
        ["path", "pages/s (best)", "runs", "vs raw"],
        [
            ["raw model.encode", f"{best_raw:.1f}", ", ".join(f"{r:.1f}" for r in raw), "100 %"],
            [
                "neural_feed_embed --rebuild",
                f"{best_ours:.1f}",
                ", ".join(f"{r:.1f}" for r in ours),
                f"{100 * best_ours / best_raw:.1f} % (target >= 90 %)",
            ],
        ],
    )


if __name__ == "__main__":
    main()
