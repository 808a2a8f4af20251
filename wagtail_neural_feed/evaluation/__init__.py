"""Offline evaluation: replay a site's own interaction history through the real ranking.

==================== ==============================================================
module               holds
==================== ==============================================================
metrics.py           pure ranking metrics (hit rate, NDCG, MRR, AUC, coverage, diversity)
history.py           the interaction snapshot, the split, the held-out events (streamed)
rankers.py           the feed and the baselines, each ranked by the real statement
replay.py            the leak-free replay: state as of each held-out event, then rank (SQL path)
fast.py              the fast engine's run: batches of events, the check against SQL
workers.py           the fast engine over several processes: contiguous chunks of time
catalogue.py         the fast engine's pages and the feed's filters as masks
state.py             the fast engine's state: counters, reads, profiles, co-reads
engine.py            the fast engine's ranking of a batch (scores, top, diversity)
batch.py             batched masks, terms and top-k
parity.py            comparing the fast engine's lists with SQL's
impression_scores.py stored impressions re-ordered by each ranker (AUC, MRR, nDCG)
report.py            accumulating metrics per ranker and split; table and JSON
tuning.py            the search over a feed's weights, the minimum, the ``Feed`` to paste
mind.py              importing MIND-format news / behaviours files
==================== ==============================================================
"""
