"""Replay the site's interaction history and score a feed against baselines (or tune it).

The replay runs in a transaction that is rolled back; afterwards the results are
stored (an ``EvaluationRun``, shown on the dashboard) unless ``--no-save``, and
``--tune --apply`` saves the tuned setting into an admin feed (or prints the
``Feed`` class to paste for a feed declared in code).
See docs/evaluation.md for the method and what each number means.
"""

from __future__ import annotations

import json
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ...admin.tuning import apply_tuning
from ...evaluation.history import SPLITS
from ...evaluation.rankers import Ranker, baselines, co_read_ranker, co_read_variants
from ...evaluation.records import evaluation_payload, store_evaluation, tuning_payload
from ...evaluation.replay import DEFAULT_CHECK_EVERY, ENGINES, Replay, ReplayResult
from ...evaluation.report import IMPRESSION_COLUMNS, format_table
from ...evaluation.tuning import (
    TUNED_FIELDS,
    TuneResult,
    best_fixed_baseline,
    feed_class_source,
    parse_weights,
    trial_configs,
    tune,
    weights_label,
)
from ...evaluation.workers import default_workers
from ...exceptions import NeuralFeedError
from ...feeds import code_feeds, get_feed_config
from ...models import AdminFeed, EvaluationRun, TuningChange

#: Settings --tune tries by default with the SQL engine (each costs a statement per event).
SQL_TRIALS = 24


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
        parser.add_argument(
            "--engine",
            choices=ENGINES,
            default="fast",
            help="'fast' (default): numpy, checked against the SQL ranking; "
            "'sql': every event through the real statements (slow).",
        )
        parser.add_argument(
            "--check-every",
            type=int,
            default=DEFAULT_CHECK_EVERY,
            help="Fast engine: also rank every Nth held-out event (and the first 3) with "
            "the SQL path and stop if the lists differ (0: never; default %(default)s).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Fast engine: processes that rank contiguous chunks of the held-out events "
            "(default: the CPU count); the results are the same with any number.",
        )
        parser.add_argument(
            "--co-read-weights",
            default="",
            help="Also rank the feed with these co-read weights, e.g. 0.3,0.6,1.0.",
        )
        _add_setting_arguments(parser)
        parser.add_argument("--tune", action="store_true", help="Search the feed's weights.")
        parser.add_argument(
            "--trials",
            type=int,
            default=None,
            help="Settings tried by --tune (default: the whole grid with the fast engine, "
            f"{SQL_TRIALS} with --engine sql).",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--apply",
            action="store_true",
            help="With --tune: save the best setting into an admin feed (when it gains on the "
            "test split), or print the Feed class to paste for a feed declared in code.",
        )
        parser.add_argument(
            "--no-save",
            dest="save",
            action="store_false",
            help="Do not store the results for the dashboard.",
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        if options["apply"] and not options["tune"]:
            raise CommandError("--apply needs --tune.")
        if options["tune"] and (options["weights"] or options["grid"]):
            raise CommandError("--weights and --grid evaluate settings; --tune searches its own.")
        if not 1 <= options["k"] <= 100:
            raise CommandError("--k must be from 1 to 100.")
        started = timezone.now()
        if options["check_every"] < 0:
            raise CommandError("--check-every must be 0 or more.")
        if options["workers"] is None:
            options["workers"] = default_workers()
        if options["workers"] < 1:
            raise CommandError("--workers must be 1 or more.")
        try:
            config = get_feed_config(options["feed"])
            replay_options = {
                "split": options["split"],
                "k": options["k"],
                "since": _parse_since(options["since"]),
                "max_events": options["max_events"],
                "min_history": options["min_history"],
                "context": options["context"],
                "engine": options["engine"],
                "check_every": options["check_every"],
                "workers": options["workers"],
            }
            if options["tune"]:
                trials = options["trials"]
                if trials is None and options["engine"] == "sql":
                    trials = SQL_TRIALS
                result = tune(
                    config,
                    trials=trials,
                    seed=options["seed"],
                    progress=self._progress,
                    **replay_options,
                )
                payload = self._report_tuning(result)
                run = self._save(payload, "tune", started, options)
                if options["apply"]:
                    self._apply(result, run)
            else:
                rankers = [Ranker("feed", config), *baselines(config)]
                if options["co_read"]:
                    rankers.append(co_read_ranker(config))
                rankers += co_read_variants(config, _weights(options["co_read_weights"]))
                rankers += _setting_rankers(config, options)
                replay = Replay(config, rankers=rankers, progress=self._progress, **replay_options)
                payload = self._report(replay.run(), config.slug, options["k"])
                self._save(payload, "evaluate", started, options)
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
        payload = evaluation_payload(result, feed, k)
        self.stdout.write(
            f"Feed {feed!r}: {payload['held_out']} held-out events of {payload['events']} "
            f"interactions; catalogue {payload['catalogue']} pages."
        )
        self.stdout.write(format_table(payload["rankers"], k))
        self.stdout.write(
            f"{result.events_per_second:.0f} held-out events/s "
            f"({len(payload['rankers'])} rankers each, {result.seconds:.1f} s, "
            f"{result.engine} engine)."
        )
        if payload["impressions"]:
            self.stdout.write(
                f"Stored impressions: {result.report.impression_lists} shown lists with a click "
                "and a non-click, re-ordered by each ranker's score as of the list's time:"
            )
            self.stdout.write(format_table(payload["impressions"], k, IMPRESSION_COLUMNS))
        return payload

    def _report_tuning(self, result: TuneResult) -> dict:
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
        best_fixed = best_fixed_baseline(result)
        if best_fixed is not None:
            name, value = best_fixed
            verdict = "beats" if result.test[1] > value else "does not beat"
            self.stdout.write(
                f"On the same {result.test_events} test events the tuned setting "
                f"({result.test[1]:.4f}) {verdict} the best fixed blend, {name} "
                f"({value:.4f}; {result.test[1] - value:+.4f})."
            )
        if result.best == result.current:
            self.stdout.write("The current setting is already the best tried.")
        return tuning_payload(result)

    def _save(self, payload: dict, kind: str, started, options: dict) -> EvaluationRun | None:
        """Store the run for the dashboard (after the replay's rollback)."""
        if not options["save"]:
            return None
        keys = ("since", "max_events", "min_history", "context", "co_read", "trials", "seed")
        keys += ("engine", "check_every")
        try:
            run = store_evaluation(
                payload,
                kind=kind,
                split=options["split"],
                started_at=started,
                options={key: options[key] for key in keys},
            )
        except DatabaseError as error:  # e.g. not migrated: keep the results printed
            self.stderr.write(f"Results not stored for the dashboard ({error}); run migrate?")
            return None
        if self.verbosity >= 2:
            self.stdout.write(f"Stored as evaluation run {run.pk}.")
        return run

    def _apply(self, result: TuneResult, run: EvaluationRun | None) -> None:
        """An admin feed takes the setting; a code feed gets the class to paste."""
        if result.best == result.current:
            return
        slug = result.current.slug
        feed = None if slug in code_feeds() else AdminFeed.objects.filter(slug=slug).first()
        if feed is None:
            self.stdout.write("Paste into your feeds module (keep your feed's other attributes):")
            self.stdout.write(feed_class_source(result.best))
            return
        if not result.gain > 0:
            self.stdout.write(
                f"Not applied: the best setting does not gain on the test split "
                f"({result.gain:+.4f}); feed {slug!r} keeps its setting."
            )
            return
        change = apply_tuning(feed, result, source=TuningChange.Source.MANUAL, evaluation=run)
        self.stdout.write(
            f"Applied to admin feed {slug!r} (change {change.pk}; revert it on the "
            "Recommendations dashboard)."
        )


def _add_setting_arguments(parser) -> None:
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        help="Also rank the feed with these values, e.g. sim=1,fresh=1,half_life=2,pop=0.5 "
        "(keys: sim, fresh, half_life, pop, context, co_read; others keep the feed's); "
        "repeat the option or separate settings with ';'.",
    )
    parser.add_argument(
        "--grid",
        action="store_true",
        help="Also rank every setting of --tune's grid (one replay, no choice made).",
    )


def _setting_rankers(config, options: dict) -> list[Ranker]:
    """The rankers of ``--weights`` and ``--grid``, named by their setting."""
    settings = []
    for value in options["weights"]:
        for spec in value.split(";"):
            if spec.strip():
                try:
                    settings.append(parse_weights(spec, config))
                except ValueError as error:
                    raise CommandError(f"--weights: {error}.") from None
    if options["grid"]:
        settings += [config]  # named by its setting too, so every row of the grid has one
        settings += trial_configs(config, trials=None, with_context=options["context"] == "last")
    context = options["context"] == "last"
    rankers: dict[str, Ranker] = {}
    for setting in settings:
        name = weights_label(setting, context=context)
        rankers.setdefault(name, Ranker(name, setting))
    return list(rankers.values())


def _weights(value: str) -> list[float]:
    try:
        weights = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--co-read-weights: not numbers: {value!r}") from None
    if any(not 0 <= weight < float("inf") for weight in weights):
        raise CommandError("--co-read-weights must be finite numbers >= 0.")
    return weights


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
