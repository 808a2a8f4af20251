#!/usr/bin/env python
"""The example site's manage.py: `python example_site/manage.py runserver`."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    # The example apps, then the checkout's own wagtail_neural_feed (ahead of any installed one).
    sys.path[:0] = [str(here), str(here.parent)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
