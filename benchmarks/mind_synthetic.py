"""MIND-format files from a synthetic news world, imported and evaluated end to end.

    python -m benchmarks.mind_synthetic --news 1500 --users 600 --lists 6000

Writes ``news.tsv`` / ``behaviors.tsv`` in MIND's format (titles and
abstracts drawn from each category's own vocabulary, so the test encoder's
hashed words carry the topic; each list shows recent articles, and readers
click by topic affinity, appeal and recency; one article in four has a
"follow-up" that readers of the first tend to click next), then runs
``neural_feed_import_mind`` and ``neural_feed_evaluate --co-read
--co-read-weights 0.3,0.6,1.0`` on them (the feed with the co-read term at
each weight, against the feed without it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks.common import setup_django

CATEGORIES = ["sports", "food", "weather", "politics", "travel", "music", "science", "health"]


def write_files(folder: Path, news: int, users: int, lists: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    vocab = {c: [f"{c[:3]}{i}" for i in range(40)] for c in CATEGORIES}
    general = [f"word{i}" for i in range(200)]
    start = datetime(2019, 11, 9, tzinfo=UTC)
    days = 6.0
    published = np.sort(rng.uniform(-1.0, days, size=news)) * 86400
    category = rng.integers(0, len(CATEGORIES), size=news)
    appeal = rng.lognormal(0, 1, size=news)
    follow_up = {i: i + 1 for i in range(0, news - 1, 4)}
    with open(folder / "news.tsv", "w") as out:
        for i in range(news):
            c = CATEGORIES[category[i]]
            words = list(rng.choice(vocab[c], 6)) + list(rng.choice(general, 2))
            abstract = " ".join(list(rng.choice(vocab[c], 12)) + list(rng.choice(general, 6)))
            out.write(f"N{i}\t{c}\t{c}-sub\t{' '.join(words)}\t{abstract}\t\t[]\t[]\n")
    likes = [rng.choice(len(CATEGORIES), size=2, replace=False) for _ in range(users)]
    history = {u: [] for u in range(users)}
    with open(folder / "behaviors.tsv", "w") as out:
        times = np.sort(rng.uniform(0, days, size=lists)) * 86400
        for n, t in enumerate(times):
            u = int(rng.integers(users))
            age = t - published
            recent = np.flatnonzero((age >= 0) & (age < 2 * 86400))
            if len(recent) < 5:
                continue
            shown = rng.choice(recent, size=min(10, len(recent)), replace=False)
            affinity = np.where(np.isin(category[shown], likes[u]), 4.0, 1.0)
            weight = appeal[shown] * affinity * np.exp(-age[shown] / 43200)
            last = history[u][-1] if history[u] else None
            weight = np.where(shown == follow_up.get(last, -1), weight * 20, weight)
            clicked = int(shown[rng.choice(len(shown), p=weight / weight.sum())])
            items = " ".join(f"N{s}-{int(s == clicked)}" for s in shown)
            when = (start + timedelta(seconds=float(t))).strftime("%m/%d/%Y %I:%M:%S %p")
            past = " ".join(f"N{h}" for h in history[u][:20])
            out.write(f"{n}\tU{u}\t{when}\t{past}\t{items}\n")
            history[u].append(clicked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=int, default=1500)
    parser.add_argument("--users", type=int, default=600)
    parser.add_argument("--lists", type=int, default=6000)
    parser.add_argument("--max-events", type=int, default=1000)
    parser.add_argument(
        "--sql-events", type=int, default=200, help="Held-out events for the SQL engine's speed."
    )
    parser.add_argument("--tune", action="store_true", help="Also --tune (time split).")
    parser.add_argument("--skip-import", action="store_true", help="Reuse the last import.")
    parser.add_argument(
        "--co-read-weights",
        default="",
        help="Also rank the feed with these co-read weights, e.g. 0.3,0.6,1.0 (SQL engine).",
    )
    parser.add_argument("--context", choices=("none", "last"), default="none")
    args = parser.parse_args()
    setup_django("benchmarks.evaluation_settings")
    from django.core.management import call_command
    from wagtail.models import Page, Site

    from tests.bulk import remove_tree
    from tests.factories import HomePageFactory
    from wagtail_neural_feed.models import Reader

    if not args.skip_import:
        Reader.objects.all().delete()
        for page in Page.objects.filter(depth=2):
            Site.objects.filter(root_page=page).delete()
            remove_tree(page)
        root = Page.get_first_root_node()
        Page.objects.filter(pk=root.pk).update(numchild=Page.objects.filter(depth=2).count())
        root.refresh_from_db()
        home = HomePageFactory(parent=root, title="MIND", slug="mind-synthetic")
        Site.objects.create(hostname="localhost", root_page=home, is_default_site=True)
        with tempfile.TemporaryDirectory() as folder:
            write_files(Path(folder), args.news, args.users, args.lists)
            started = time.perf_counter()
            call_command(
                "neural_feed_import_mind",
                f"{folder}/news.tsv",
                f"{folder}/behaviors.tsv",
                "--page-type",
                "testapp.NewsPage",
                "--section-type",
                "testapp.SectionPage",
            )
            print(f"imported in {time.perf_counter() - started:.0f} s")
    for split in ("leave-last-out", "time"):
        for engine, events in (("fast", args.max_events), ("sql", args.sql_events)):
            print(f"\n--split {split} --engine {engine} --max-events {events}")
            call_command(
                "neural_feed_evaluate",
                "--split",
                split,
                "--co-read",
                "--engine",
                engine,
                "--context",
                args.context,
                *(["--co-read-weights", args.co_read_weights] if args.co_read_weights else []),
                "--max-events",
                str(events),
                verbosity=0,
            )
    if args.tune:
        print("\n--tune --split time")
        call_command(
            "neural_feed_evaluate",
            "--tune",
            "--split",
            "time",
            "--max-events",
            str(args.max_events),
            verbosity=0,
        )


if __name__ == "__main__":
    main()
