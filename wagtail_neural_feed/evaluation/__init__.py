"""Offline evaluation: replay a site's own interaction history through the real ranking.

============ ==============================================================
module       holds
============ ==============================================================
metrics.py   pure ranking metrics (hit rate, NDCG, MRR, AUC, coverage, diversity)
history.py   the interaction snapshot, the split, the held-out events (streamed)
rankers.py   the feed and the baselines, each ranked by the real statement
replay.py    the leak-free replay: state as of each held-out event, then rank
report.py    accumulating metrics per ranker and split; table and JSON
tuning.py    the search over a feed's weights, the minimum, the ``Feed`` to paste
mind.py      importing MIND-format news / behaviours files
============ ==============================================================
"""
