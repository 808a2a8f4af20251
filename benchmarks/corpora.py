"""Category-labelled text for the "More like this" quality benchmark, assembled at run time.

Nothing here is committed data: the Debian corpus is read from apt's own
package lists on this machine, the example site's from its articles file.

* **debian**: package descriptions (a one-line synopsis and a paragraph or
  more of long description) labelled by their archive ``Section``. Long
  descriptions live in apt's ``Translation-en`` lists, which images built for
  containers often leave out (``Acquire::Languages "none"``); get them once
  with ``apt-get update -o Acquire::Languages=en`` (add
  ``-o Dir::State::Lists=DIR`` to keep them out of the system's lists, then
  pass ``--apt-lists DIR``).
* **example**: the example site's 152 articles, labelled by their section.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Sections whose packages describe what a program is *for* (a subject),
#: rather than which language or library stack it belongs to. Language
#: sections (python, perl, rust...) are mostly bindings named after the
#: language, and libs / libdevel / doc are boilerplate ("This package
#: contains the development files / documentation of..."): precision there
#: measures string matching on a package naming convention, not meaning.
DEBIAN_SECTIONS = (
    "admin",
    "editors",
    "fonts",
    "games",
    "graphics",
    "mail",
    "math",
    "net",
    "science",
    "sound",
    "text",
    "web",
)
#: Binary packages whose description repeats another package's (same source)
#: with a suffix-specific sentence.
_SKIP_SUFFIXES = ("-dev", "-doc", "-dbg", "-dbgsym", "-data", "-common", "-examples", "-tests")
_BOILERPLATE = re.compile(
    r"transitional|dummy package|metapackage|meta-package|virtual package", re.IGNORECASE
)


@dataclass(frozen=True)
class Document:
    """One page to be: its title, summary (search description), body and category."""

    key: str
    title: str
    summary: str
    body: str
    category: str


def _stanzas(text: str):
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        name = None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and name:
                fields[name] += "\n" + line
            elif ":" in line:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        if fields:
            yield fields


def _read_list(path: Path) -> str:
    """A (compressed) apt list file, decompressed by apt itself."""
    return subprocess.run(
        ["/usr/lib/apt/apt-helper", "cat-file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def apt_lists_dir() -> Path:
    output = subprocess.run(
        ["apt-config", "shell", "LISTS", "Dir::State::Lists/d"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"LISTS='([^']*)'", output)
    return Path(match.group(1) if match else "/var/lib/apt/lists")


def _long_description(raw: str) -> str:
    """Debian's description format: continuation lines, " ." for a blank line."""
    paragraphs, current = [], []
    for line in raw.splitlines()[1:]:
        line = line.strip()
        if line == ".":
            if current:
                paragraphs.append(" ".join(current))
            current = []
        elif line:
            current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    return "\n".join(paragraphs)


def debian_documents(
    lists_dir: Path | None = None,
    *,
    sections: tuple[str, ...] = DEBIAN_SECTIONS,
    per_section: int = 100,
    seed: int = 0,
) -> list[Document]:
    """A balanced, seeded sample of package descriptions, one package per source package."""
    lists_dir = lists_dir or apt_lists_dir()
    translations: dict[str, str] = {}
    for path in sorted(lists_dir.glob("*_i18n_Translation-en*")):
        for fields in _stanzas(_read_list(path)):
            if "Description-md5" in fields and "Description-en" in fields:
                translations[fields["Description-md5"]] = fields["Description-en"]
    if not translations:
        raise SystemExit(
            f"No Translation-en lists in {lists_dir}: run "
            "`apt-get update -o Acquire::Languages=en` (see benchmarks/corpora.py)."
        )
    by_source: dict[tuple[str, str], dict] = {}
    for path in sorted(lists_dir.glob("*_binary-*_Packages*")):
        for fields in _stanzas(_read_list(path)):
            package, section = fields.get("Package", ""), fields.get("Section", "")
            section = section.rpartition("/")[2]
            raw = translations.get(fields.get("Description-md5", ""))
            if section not in sections or raw is None or package.endswith(_SKIP_SUFFIXES):
                continue
            if _BOILERPLATE.search(raw):
                continue
            source = fields.get("Source", package).split(" ")[0]
            current = by_source.get((section, source))
            # The binary named after its source, else the shortest name: the program itself.
            if current is None or (package == source, -len(package)) > (
                current["package"] == source,
                -len(current["package"]),
            ):
                by_source[(section, source)] = {"package": package, "raw": raw}
    grouped: dict[str, list[Document]] = defaultdict(list)
    seen_bodies: set[str] = set()
    for (section, _), entry in sorted(by_source.items()):
        synopsis = entry["raw"].splitlines()[0].strip()
        body = _long_description(entry["raw"])
        # Near-duplicates across sources (forks, renamed packages) share an opening.
        opening = re.sub(r"\W+", " ", body[:120].lower())
        if len(body) < 120 or opening in seen_bodies:
            continue
        seen_bodies.add(opening)
        title = synopsis[:1].upper() + synopsis[1:]
        grouped[section].append(Document(entry["package"], title, "", body, section))
    rng = random.Random(seed)
    documents: list[Document] = []
    for section in sections:
        pool = grouped[section]
        documents.extend(rng.sample(pool, min(per_section, len(pool))))
    return documents


def example_documents() -> list[Document]:
    """The example site's articles: title, intro as the summary, body paragraphs."""
    import json

    path = ROOT / "example_site" / "blog" / "content" / "articles.json"
    return [
        Document(
            key=article["title"],
            title=article["title"],
            summary=article["intro"],
            body="\n".join(article["body"]),
            category=article["section"],
        )
        for article in json.loads(path.read_text(encoding="utf-8"))
    ]
