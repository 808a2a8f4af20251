"""Personalised, semantic page recommendations for Wagtail, ranked in PostgreSQL with pgvector."""

__version__ = "0.1.0.dev0"
