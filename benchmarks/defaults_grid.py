"""Choosing the shipped default weights: one grid of settings, several kinds of data.

    python -m benchmarks.defaults_grid evaluate --name news [--max-events 1000]
    python example_site/manage.py neural_feed_evaluate --grid \\
        --weights "$(python -m benchmarks.defaults_grid extras)" --split time \\
        --json .grid/demo-time.json --no-save
    python -m benchmarks.defaults_grid choose .grid/*.json

``evaluate`` ranks every setting of ``--tune``'s grid plus ``EXTRA_SETTINGS``
(``neural_feed_evaluate --grid --weights ...``) with the baselines, on both
splits of whatever the evaluation benchmarks' database holds (the news stream of
``benchmarks.evaluation`` or the import of ``benchmarks.mind_synthetic``), and
writes ``<name>-<split>.json``. ``choose`` reads such files (a file's data set
is the part of its name before the first "-") and picks the setting whose worst
ratio to each file's best setting is highest, among those that beat "most
popular" and "recent + popular" on news-like data and "pure similarity" on the
demo site's readers (``MUST_BEAT``).
See docs/evaluation.md, "Choosing the defaults".
"""

from __future__ import annotations

import argparse
import json
from io import StringIO
from pathlib import Path

from benchmarks.common import setup_django

#: Half-lives between the tuning grid's 1, 3 and 14 days, with the weights that
#: suit them (``--weights`` form).
EXTRA_SETTINGS = [
    f"sim=1,fresh={fresh:g},half_life={days:g},pop={pop:g}"
    for days in (2.0, 7.0)
    for fresh in (0.5, 1.0, 2.0, 4.0)
    for pop in (0.1, 0.3, 1.0, 2.0)
]
#: What the default must beat on each kind of data, besides being robust: on news-like
#: data the most-read list and the fixed blend a news site might pick without data,
#: on the demo site's topic-following readers pure similarity.
MUST_BEAT = {
    "news": ("most popular", "recent + popular"),
    "mind": ("most popular", "recent + popular"),
    "demo": ("pure similarity",),
}
BASELINES = ("random", "most recent", "most popular", "pure similarity", "recent + popular")


def evaluate(name: str, max_events: int | None, check_every: int, out: Path) -> None:
    setup_django("benchmarks.evaluation_settings")
    from django.core.management import call_command

    out.mkdir(parents=True, exist_ok=True)
    for split in ("leave-last-out", "time"):
        path = out / f"{name}-{split}.json"
        call_command(
            "neural_feed_evaluate",
            "--grid",
            "--weights",
            ";".join(EXTRA_SETTINGS),
            "--split",
            split,
            "--check-every",
            str(check_every),
            *(["--max-events", str(max_events)] if max_events else []),
            "--json",
            str(path),
            "--no-save",
            stdout=StringIO(),
        )
        print(f"wrote {path}")


def load(paths: list[str]) -> dict[str, dict]:
    """``{file stem: rankers' metrics}`` of ``neural_feed_evaluate --json`` files."""
    return {Path(path).stem: json.loads(Path(path).read_text())["rankers"] for path in paths}


def clears_bars(runs: dict[str, dict], setting: str, k: int = 10) -> bool:
    """Whether ``setting`` beats every baseline of ``MUST_BEAT`` on its data (NDCG@k)."""
    key = f"ndcg@{k}"
    return all(
        rankers[setting][key] > rankers[baseline][key]
        for run, rankers in runs.items()
        for baseline in MUST_BEAT.get(run.split("-")[0], ())
    )


def choose(runs: dict[str, dict], k: int = 10) -> tuple[str, list[tuple[str, float]]]:
    """The most robust setting that clears every data set's bars, and every setting's
    worst ratio (NDCG@k over the file's best setting), best first."""
    key = f"ndcg@{k}"
    settings = [name for name in next(iter(runs.values())) if name.startswith("sim=")]
    best = {run: max(rankers[s][key] for s in settings) for run, rankers in runs.items()}

    def worst(setting: str) -> float:
        return min(rankers[setting][key] / best[run] for run, rankers in runs.items())

    ranked = sorted(((s, worst(s)) for s in settings), key=lambda item: -item[1])
    eligible = [item for item in ranked if clears_bars(runs, item[0], k)]
    return (eligible or ranked)[0][0], ranked


def print_choice(runs: dict[str, dict], current: str, top: int, k: int = 10) -> None:
    chosen, ranked = choose(runs, k)
    ndcg, hit = f"ndcg@{k}", f"hit_rate@{k}"
    columns = sorted(runs)
    print("| setting | worst ratio | clears the bars | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    worst = dict(ranked)
    rows = [name for name, _ in ranked[:top]]
    rows += [name for name in (current, chosen) if name not in rows]
    rows += [name for name in BASELINES if name in runs[columns[0]]]
    for name in rows:
        cells = [f"{runs[c][name][ndcg]:.4f} / {runs[c][name][hit]:.3f}" for c in columns]
        ratio = f"{worst[name]:.3f}" if name in worst else "-"
        bars = ("yes" if clears_bars(runs, name, k) else "no") if name in worst else "-"
        marks = " (chosen)" if name == chosen else ""
        marks += " (old default)" if name == current else ""
        print(f"| {name}{marks} | {ratio} | {bars} | " + " | ".join(cells) + " |")
    print(f"\nchosen: {chosen} (worst ratio {worst[chosen]:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("evaluate", help="Rank the grid on both splits of the database.")
    run.add_argument("--name", required=True, help="Data set name: news, mind, ...")
    run.add_argument("--max-events", type=int, default=1000)
    run.add_argument("--check-every", type=int, default=0)
    run.add_argument("--out", type=Path, default=Path(".grid"))
    commands.add_parser("extras", help="Print EXTRA_SETTINGS for --weights.")
    pick = commands.add_parser("choose", help="Pick the most robust setting from JSON files.")
    pick.add_argument("paths", nargs="+")
    pick.add_argument("--current", default="sim=1,fresh=0.2,half_life=14,pop=0.1")
    pick.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    if args.command == "evaluate":
        evaluate(args.name, args.max_events, args.check_every, args.out)
    elif args.command == "extras":
        print(";".join(EXTRA_SETTINGS))
    else:
        print_choice(load(args.paths), args.current, args.top)


if __name__ == "__main__":
    main()
