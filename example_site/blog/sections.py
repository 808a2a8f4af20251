"""The demo's eight sections: names, blurbs and the palettes their images are drawn in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    slug: str
    name: str
    blurb: str
    #: Background gradient (two colours) and accent colours for the shapes.
    palette: tuple[str, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        "space",
        "Space",
        "Telescopes, missions and the night sky.",
        ("#0b1026", "#2a2f6b", "#f5d76e", "#9ad1ff", "#e86f9a"),
    ),
    Section(
        "food",
        "Food",
        "Home cooking, baking and what is in season.",
        ("#7a2e12", "#d9822b", "#f7e3b5", "#a4c05f", "#e0473a"),
    ),
    Section(
        "football",
        "Football",
        "Tactics, clubs and the people who play the game.",
        ("#0f4d2a", "#2f8f4e", "#ffffff", "#f2c14e", "#1c1c1c"),
    ),
    Section(
        "running",
        "Running",
        "Training plans, races and staying injury free.",
        ("#8a1538", "#f05a28", "#ffe0b2", "#2d3142", "#f7b32b"),
    ),
    Section(
        "gardening",
        "Gardening",
        "Vegetables, flowers and the soil they grow in.",
        ("#2e4a1f", "#7ea04d", "#f4e285", "#c2549d", "#5b3a29"),
    ),
    Section(
        "music",
        "Music",
        "Instruments, records and live shows.",
        ("#2b0f3a", "#7b2cbf", "#ffd6ff", "#48cae4", "#ff9e00"),
    ),
    Section(
        "technology",
        "Technology",
        "Software, hardware and how they change work.",
        ("#0d1b2a", "#1b4965", "#5fa8d3", "#cae9ff", "#62b6cb"),
    ),
    Section(
        "travel",
        "Travel",
        "Trains, trails and cities worth the trip.",
        ("#03396c", "#2a9d8f", "#e9c46a", "#f4a261", "#ffffff"),
    ),
)

SECTIONS_BY_SLUG = {section.slug: section for section in SECTIONS}
