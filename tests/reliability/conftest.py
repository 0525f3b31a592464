"""Fixtures of the reliability tests (helpers live in reliability_helpers.py)."""

from reliability_helpers import pg_study

__all__ = ["pg_study"]
