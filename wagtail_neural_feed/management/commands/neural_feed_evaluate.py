"""Replay the site's interaction history and score a feed against baselines (or tune it).

Nothing is changed: the replay runs in a transaction that is rolled back.
See docs/evaluation.md for the method and what each number means.
"""

from __future__ import annotations

import json
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ...evaluation.history import SPLITS
from ...evaluation.rankers import Ranker, baselines, co_read_ranker
from ...evaluation.replay import Replay, ReplayResult
from ...evaluation.report import format_table
from ...evaluation.tuning import TUNED_FIELDS, TuneResult, feed_class_source, tune
from ...exceptions import NeuralFeedError
from ...feeds import get_feed_config


class Command(BaseCommand):
    help = "Replay the interaction history: how well a feed ranks against baselines (--tune)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--feed", default=None, help="Feed slug (default: the default feed).")
        parser.add_argument(
            "--since",
            default=None,
            help="Hold out only events from this date (YYYY-MM-DD or ISO time); "
            "for --split time it is the cut-off (default: the last 20%% of the history).",
        )
        parser.add_argument("--split", choices=SPLITS, default="leave-last-out")
        parser.add_argument("--k", type=int, default=10, help="List length scored (default 10).")
        parser.add_argument("--json", dest="json_path", default=None, help="Write results here.")
        parser.add_argument(
            "--max-events", type=int, default=None, help="Hold out at most the latest N events."
        )
        parser.add_argument(
            "--min-history",
            type=int,
            default=1,
            help="Hold out a reader's event only after this many earlier ones (default 1).",
        )
        parser.add_argument(
            "--context",
            choices=("none", "last"),
            default="none",
            help="'last': rank as if read on the reader's previous page (context page).",
        )
        parser.add_argument(
            "--co-read",
            action="store_true",
            help="Also rank 'readers of this also read' (co-reads of the reader's last page).",
        )
        parser.add_argument("--tune", action="store_true", help="Search the feed's weights.")
        parser.add_argument("--trials", type=int, default=24, help="Settings tried by --tune.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--apply", action="store_true", help="With --tune: print the Feed class to paste."
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        if options["apply"] and not options["tune"]:
            raise CommandError("--apply needs --tune.")
        if not 1 <= options["k"] <= 100:
            raise CommandError("--k must be from 1 to 100.")
        try:
            config = get_feed_config(options["feed"])
            replay_options = {
                "split": options["split"],
                "k": options["k"],
                "since": _parse_since(options["since"]),
                "max_events": options["max_events"],
                "min_history": options["min_history"],
                "context": options["context"],
            }
            if options["tune"]:
                result = tune(
                    config,
                    trials=options["trials"],
                    seed=options["seed"],
                    progress=self._progress,
                    **replay_options,
                )
                payload = self._report_tuning(result, options["apply"])
            else:
                rankers = [Ranker("feed", config), *baselines(config)]
                if options["co_read"]:
                    rankers.append(co_read_ranker(config))
                replay = Replay(config, rankers=rankers, progress=self._progress, **replay_options)
                payload = self._report(replay.run(), config.slug, options["k"])
        except NeuralFeedError as error:
            raise CommandError(str(error)) from error
        if options["json_path"]:
            with open(options["json_path"], "w") as handle:
                json.dump(payload, handle, indent=2, default=str)
            self.stdout.write(f"Wrote {options['json_path']}.")

    def _progress(self, done: int, total: int) -> None:
        if self.verbosity < 1 or (done % 50 and done != total):
            return
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        self.stderr.write(f"\r[{bar}] {done}/{total} held-out events", ending="")
        if done == total:
            self.stderr.write("")
        self.stderr.flush()

    def _report(self, result: ReplayResult, feed: str, k: int) -> dict:
        summary = result.summary
        results = result.report.as_dict(result.catalogue_size)
        self.stdout.write(
            f"Feed {feed!r}: {summary.held_out} held-out events of {summary.events} "
            f"interactions; catalogue {result.catalogue_size} pages."
        )
        self.stdout.write(format_table(results, k))
        self.stdout.write(
            f"{result.events_per_second:.0f} held-out events/s "
            f"({len(results)} rankers each, {result.seconds:.1f} s)."
        )
        return {
            "feed": feed,
            "k": k,
            "events": summary.events,
            "held_out": summary.held_out,
            "cutoff": summary.cutoff,
            "catalogue": result.catalogue_size,
            "events_per_second": result.events_per_second,
            "rankers": results,
        }

    def _report_tuning(self, result: TuneResult, apply: bool) -> dict:
        k = result.replay.report.k
        self.stdout.write(
            f"Tried {result.trials} settings on {result.validation_events} validation events; "
            f"judged on {result.test_events} later test events."
        )
        for field in TUNED_FIELDS:
            before, after = getattr(result.current, field), getattr(result.best, field)
            self.stdout.write(f"  {field}: {before} -> {after}")
        self.stdout.write(
            f"NDCG@{k} validation {result.validation[0]:.4f} -> {result.validation[1]:.4f}; "
            f"test {result.test[0]:.4f} -> {result.test[1]:.4f} (gain {result.gain:+.4f})."
        )
        if result.best == result.current:
            self.stdout.write("The current setting is already the best tried.")
        elif apply:
            self.stdout.write("Paste into your feeds module (keep your feed's other attributes):")
            self.stdout.write(feed_class_source(result.best))
        return {
            "feed": result.current.slug,
            "k": k,
            "trials": result.trials,
            "validation_events": result.validation_events,
            "test_events": result.test_events,
            "validation_ndcg": {"current": result.validation[0], "best": result.validation[1]},
            "test_ndcg": {"current": result.test[0], "best": result.test[1]},
            "gain": result.gain,
            "best": {field: getattr(result.best, field) for field in TUNED_FIELDS},
            "events_per_second": result.replay.events_per_second,
        }


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since: not a date or time: {value!r}")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
