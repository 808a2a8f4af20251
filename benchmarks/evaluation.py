"""Offline evaluation on a synthetic news-like stream: quality of each ranker, and speed.

    python -m benchmarks.evaluation --pages 5000 --readers 2000 --reads 20 [--tune]

Builds (once per size; ``--rebuild`` to redo) the world of ``tests/news_world.py``
(pages published one after another, readers with a topic or two, reads drawn
with a steep preference for recent, appealing, on-topic pages) under the
default site of its own database, then replays it with leave-last-out and a
time split, printing NDCG@10 / hit rate@10 per ranker and held-out events/s.
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks.common import print_table, setup_django


def build(pages: int, readers: int, reads: int, rebuild: bool) -> None:
    from wagtail.models import Page, Site

    from tests.bulk import remove_tree
    from tests.factories import HomePageFactory, SectionPageFactory
    from tests.news_world import build_news_world
    from wagtail_neural_feed.models import Interaction, Reader

    slug = f"eval-{pages}-{readers}-{reads}"
    home = Page.objects.filter(slug=slug).first()
    if home is not None and not rebuild and Interaction.objects.exists():
        return
    Reader.objects.all().delete()
    for page in Page.objects.filter(depth=2):
        Site.objects.filter(root_page=page).delete()
        remove_tree(page)
    root = Page.get_first_root_node()
    # remove_tree leaves the parent's child count alone.
    Page.objects.filter(pk=root.pk).update(numchild=Page.objects.filter(depth=2).count())
    root.refresh_from_db()
    home = HomePageFactory(parent=root, title=slug, slug=slug)
    Site.objects.create(hostname="localhost", root_page=home, is_default_site=True)
    section = SectionPageFactory(parent=home, title="News", slug="news")
    started = time.perf_counter()
    world = build_news_world(
        section, pages=pages, readers=readers, reads_per_reader=reads, seed=pages
    )
    print(f"built {pages} pages, {world.events} reads in {time.perf_counter() - started:.0f} s")


def quality_table(title: str, result) -> None:
    results = result.report.as_dict(result.catalogue_size)
    print_table(
        title,
        ["ranker", "NDCG@10", "hit rate@10", "MRR@10", "coverage", "diversity"],
        [
            [
                name,
                f"{values['ndcg@10']:.4f}",
                f"{values['hit_rate@10']:.4f}",
                f"{values['mrr@10']:.4f}",
                f"{values['coverage']:.3f}",
                "-" if values["diversity"] is None else f"{values['diversity']:.3f}",
            ]
            for name, values in results.items()
        ],
    )


def compare_engines(
    config, rankers, split: str, max_events, sql_events: int, workers: int
) -> list[list]:
    """Held-out events/s of the fast engine (with and without its SQL check, with
    ``workers`` processes and with one) and of SQL, interleaved in one process; the
    quality table from the checked fast run."""
    from wagtail_neural_feed.evaluation.replay import Replay

    speed = []
    runs = [
        (f"fast, checked every 50th, {workers} workers", {"workers": workers}, max_events),
        (f"fast, no check, {workers} workers", {"check_every": 0, "workers": workers}, max_events),
        ("fast, no check, 1 process", {"check_every": 0, "workers": 1}, max_events),
        ("sql", {"engine": "sql"}, sql_events),
    ]
    for label, options, events in runs:
        result = Replay(config, rankers=rankers, split=split, max_events=events, **options).run()
        if label.startswith("fast, checked"):
            quality_table(
                f"{split}: {result.summary.held_out} held-out events of {result.summary.events} "
                f"({len(rankers)} rankers each)",
                result,
            )
        speed.append(
            [
                split,
                label,
                result.summary.held_out,
                f"{result.seconds:.2f}",
                f"{result.events_per_second:.0f}",
                f"{result.summary.held_out / max(result.cpu_seconds, 1e-9):.0f}",
            ]
        )
    return speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--max-events", type=int, default=None)
    parser.add_argument(
        "--sql-events", type=int, default=200, help="Held-out events for the (slow) SQL engine."
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Fast engine's worker processes (default: the CPU count).",
    )
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--no-baselines", action="store_true", help="Only --tune.")
    parser.add_argument("--trials", type=int, default=None, help="Default: the whole grid.")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--co-read-weights",
        default="",
        help="The feed with these co-read weights too, e.g. 0.3,0.6,1.0 (SQL engine only).",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.evaluation_settings")
    setup_django("benchmarks.evaluation_settings")
    from wagtail_neural_feed.evaluation.rankers import (
        Ranker,
        baselines,
        co_read_ranker,
        co_read_variants,
    )
    from wagtail_neural_feed.evaluation.tuning import best_fixed_baseline, tune
    from wagtail_neural_feed.evaluation.workers import default_workers
    from wagtail_neural_feed.feeds import get_feed_config

    build(args.pages, args.readers, args.reads, args.rebuild)
    config = get_feed_config("default")
    workers = args.workers or default_workers()
    speed = []
    for split in () if args.no_baselines else ("leave-last-out", "time"):
        weights = [float(w) for w in args.co_read_weights.split(",") if w.strip()]
        rankers = [Ranker("feed", config), *baselines(config), co_read_ranker(config)]
        rankers += co_read_variants(config, weights)
        speed += compare_engines(config, rankers, split, args.max_events, args.sql_events, workers)
    if speed:
        print_table(
            f"speed ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})",
            ["split", "engine", "held-out events", "seconds", "events/s", "events/CPU-s"],
            speed,
        )
    if args.tune:
        tuned = tune(
            config, trials=args.trials, split="time", max_events=args.max_events, workers=workers
        )
        print(
            f"\ntune ({tuned.trials} trials, {tuned.validation_events} validation / "
            f"{tuned.test_events} test events, {tuned.replay.events_per_second:.0f} events/s):"
        )
        for field in ("freshness_weight", "popularity_weight", "freshness_half_life_days"):
            print(f"  {field}: {getattr(config, field)} -> {getattr(tuned.best, field)}")
        print(
            f"  NDCG@10 test: current {tuned.test[0]:.4f}, tuned {tuned.test[1]:.4f} "
            f"(gain {tuned.gain:+.4f}); validation {tuned.validation[0]:.4f} -> "
            f"{tuned.validation[1]:.4f}"
        )
        fixed = best_fixed_baseline(tuned)
        if fixed is not None:
            print(f"  best fixed blend on the same test events: {fixed[0]} {fixed[1]:.4f}")


if __name__ == "__main__":
    main()
