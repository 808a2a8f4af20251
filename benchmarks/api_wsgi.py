"""WSGI entry point for the JSON API benchmark.

With ``NEURAL_FEED_PROFILE=<dir>`` each worker runs every request under
cProfile and writes its totals to ``<dir>/worker-<pid>.prof`` when it exits
(``python -m benchmarks.api --profile`` sets this and prints the top entries).
"""

import atexit
import cProfile
import os
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.api_settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

if os.environ.get("NEURAL_FEED_PROFILE"):
    _django_application = application
    _profiler = cProfile.Profile()

    def application(environ, start_response):
        # The body is built inside the view (JsonResponse), so profiling the
        # call covers middleware, view, ranking and serialisation.
        _profiler.enable()
        try:
            return _django_application(environ, start_response)
        finally:
            _profiler.disable()

    def _dump() -> None:
        folder = Path(os.environ["NEURAL_FEED_PROFILE"])
        folder.mkdir(parents=True, exist_ok=True)
        _profiler.dump_stats(folder / f"worker-{os.getpid()}.prof")

    atexit.register(_dump)
