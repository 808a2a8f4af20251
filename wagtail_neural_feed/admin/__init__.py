"""The Wagtail admin side: feeds in Settings, the dashboard, the preview and editor panel.

Wired up in ``wagtail_neural_feed/wagtail_hooks.py``; import ``SimilarPagesPanel``
from ``wagtail_neural_feed.admin.panels``.
"""
