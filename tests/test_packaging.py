"""A built wheel carries the templates (top-level templates/), migrations and py.typed."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_templates_migrations_and_types(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("wagtail_neural_feed-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "templates").rglob("*")
        if path.is_file()
    ]
    assert templates, "the package has templates to ship"
    for template in templates:
        assert f"wagtail_neural_feed/{template}" in names
    assert "wagtail_neural_feed/migrations/0001_vector_extension.py" in names
    assert "wagtail_neural_feed/migrations/0002_initial.py" in names
    assert "wagtail_neural_feed/py.typed" in names
    assert "wagtail_neural_feed/static/wagtail_neural_feed/neural_feed.css" in names
    assert not any(name.startswith(("tests/", "example_site/", "benchmarks/")) for name in names)


def test_editable_install_finds_templates(settings):
    from django.template.loader import get_template

    first = next(p for p in (ROOT / "templates").rglob("*.html"))
    name = first.relative_to(ROOT / "templates").as_posix()
    assert get_template(name).origin.name.endswith(name)
