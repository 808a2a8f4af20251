"""Tuning a feed on its own history: a search over its weights, judged on held-out events.

One replay ranks every held-out event with the current setting and each
trial setting. The earlier half of the held-out events (in time) picks the
best trial; the later half, which played no part in the choice, measures its
gain over the current setting. Fewer held-out events than ``TUNE_MIN_EVENTS``
are refused: the winner of many trials on a few events is mostly noise.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..conf import neural_feed_settings
from ..feeds import FeedConfig
from .rankers import Ranker, baselines
from .replay import Replay, ReplayResult

#: The grid searched. The score ranks pages by the ratio of its weights, so the
#: similarity weight stays 1 and the others move around it (freshness 8 is
#: similarity 1/8 of freshness: close to "recent and popular" alone).
FRESHNESS_WEIGHTS = (0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
POPULARITY_WEIGHTS = (0.0, 0.1, 0.3, 1.0, 2.0)
FRESHNESS_HALF_LIVES = (0.5, 1.0, 3.0, 14.0)
#: The baselines ranked alongside the trials (not candidates): the fixed settings
#: a tuned feed should beat.
FIXED_BASELINES = ("most recent", "most popular", "recent + popular")
#: Searched only when the replay passes a context page (``context="last"``).
CONTEXT_WEIGHTS = (0.0, 0.3, 0.6)
TUNED_FIELDS = (
    "similarity_weight",
    "freshness_weight",
    "popularity_weight",
    "freshness_half_life_days",
    "context_weight",
)
#: The short names ``--weights`` takes, and the fields they set.
WEIGHT_KEYS = {
    "sim": "similarity_weight",
    "fresh": "freshness_weight",
    "half_life": "freshness_half_life_days",
    "pop": "popularity_weight",
    "context": "context_weight",
    "co_read": "co_read_weight",
}


@dataclass
class TuneResult:
    current: FeedConfig
    best: FeedConfig
    #: NDCG@k of (current, best) on the validation and the test halves.
    validation: tuple[float, float]
    test: tuple[float, float]
    validation_events: int
    test_events: int
    trials: int
    replay: ReplayResult

    @property
    def gain(self) -> float:
        """NDCG@k of the best setting minus the current one's, on the test half."""
        return self.test[1] - self.test[0]


def trial_configs(
    config: FeedConfig, *, trials: int | None, seed: int = 0, with_context: bool = False
) -> list[FeedConfig]:
    """The settings to try: the whole grid, or ``trials`` drawn from it at random."""
    contexts = CONTEXT_WEIGHTS if with_context else (config.context_weight,)
    grid = [
        replace(
            config,
            similarity_weight=1.0,
            freshness_weight=fresh,
            popularity_weight=popular,
            freshness_half_life_days=half_life,
            context_weight=context,
        )
        for fresh, popular, half_life, context in itertools.product(
            FRESHNESS_WEIGHTS, POPULARITY_WEIGHTS, FRESHNESS_HALF_LIVES, contexts
        )
    ]
    grid = [candidate for candidate in grid if candidate != config]
    if trials is not None and trials < len(grid):
        grid = random.Random(seed).sample(grid, trials)
    return grid


def parse_weights(spec: str, config: FeedConfig) -> FeedConfig:
    """``config`` with the values of ``spec`` ("sim=1,fresh=1,half_life=2,pop=0.5"); keys
    left out keep the feed's own. Raises ``ValueError`` naming what is wrong."""
    values = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in WEIGHT_KEYS:
            raise ValueError(
                f"{part.strip()!r} is not key=value with a key among {', '.join(WEIGHT_KEYS)}"
            )
        try:
            values[WEIGHT_KEYS[key]] = float(value)
        except ValueError:
            raise ValueError(f"{key}: not a number: {value.strip()!r}") from None
    if not values:
        raise ValueError(f"no weights in {spec!r}")
    return replace(config, **values)


def weights_label(config: FeedConfig, *, context: bool = False) -> str:
    """The setting in ``--weights`` form, e.g. "sim=1,fresh=1,half_life=2,pop=0.5"
    (the context weight only with ``context``: it matters only with a context page)."""
    keys = ["sim", "fresh", "half_life", "pop"] + (["context"] if context else [])
    keys += ["co_read"] if config.co_read_weight else []
    return ",".join(f"{key}={getattr(config, WEIGHT_KEYS[key]):g}" for key in keys)


def tune(
    config: FeedConfig,
    *,
    trials: int | None = 24,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    **replay_options,
) -> TuneResult:
    """Replay once with the current setting and every trial; pick on validation, report on test."""
    candidates = trial_configs(
        config, trials=trials, seed=seed, with_context=replay_options.get("context") == "last"
    )
    rankers = [Ranker("current", config)] + [
        Ranker(f"trial {i}", candidate) for i, candidate in enumerate(candidates, start=1)
    ]
    fixed = [ranker for ranker in baselines(config) if ranker.name in FIXED_BASELINES]
    replay = Replay(
        config,
        rankers=rankers + fixed,
        min_held_out=int(neural_feed_settings.TUNE_MIN_EVENTS),
        progress=progress,
        **replay_options,
    )
    result = replay.run()
    report, catalogue = result.report, result.catalogue_size
    key = f"ndcg@{report.k}"

    def score(name: str, part: str) -> float:
        return report.summary(name, catalogue, part)[key]

    # Ties keep the current setting: change only for a measured gain.
    best_name = max(
        (ranker.name for ranker in rankers),
        key=lambda name: (score(name, "validation"), name == "current"),
    )
    best = next(ranker.config for ranker in rankers if ranker.name == best_name)
    return TuneResult(
        current=config,
        best=best,
        validation=(score("current", "validation"), score(best_name, "validation")),
        test=(score("current", "test"), score(best_name, "test")),
        validation_events=report.summary("current", catalogue, "validation")["events"],
        test_events=report.summary("current", catalogue, "test")["events"],
        trials=len(candidates),
        replay=result,
    )


def fixed_baselines_on_test(result: TuneResult) -> dict[str, float]:
    """NDCG@k on the test half of the fixed baselines ranked with the trials."""
    report, catalogue = result.replay.report, result.replay.catalogue_size
    key = f"ndcg@{report.k}"
    return {
        name: report.summary(name, catalogue, "test")[key]
        for name in FIXED_BASELINES
        if name in report.names
    }


def best_fixed_baseline(result: TuneResult) -> tuple[str, float] | None:
    """The fixed baseline with the highest NDCG@k on the test half, and that NDCG@k:
    the bar the tuned setting must clear on the same events."""
    fixed = fixed_baselines_on_test(result)
    if not fixed:
        return None
    name = max(fixed, key=fixed.get)
    return name, fixed[name]


def feed_class_source(config: FeedConfig) -> str:
    """A ``Feed`` class to paste, carrying the tuned values (other attributes: keep yours)."""
    name = "".join(part.capitalize() for part in config.slug.replace("-", "_").split("_"))
    lines = [
        "from wagtail_neural_feed import Feed, register_feed",
        "",
        "",
        "@register_feed",
        f"class {name or 'Tuned'}Feed(Feed):",
        f"    slug = {config.slug!r}",
    ]
    lines += [f"    {field} = {getattr(config, field)!r}" for field in TUNED_FIELDS]
    return "\n".join(lines) + "\n"
