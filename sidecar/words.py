"""Counted nouns for messages: "1 problem", "2 problems" (never "1 problems")."""

from __future__ import annotations


def counted(number: int, noun: str, *, plural: str | None = None) -> str:
    """Return ``number`` and ``noun`` in agreement: 1 day, 2 days, 0 policies."""
    if number == 1:
        return f"{number} {noun}"
    return f"{number} {plural or noun + 's'}"
