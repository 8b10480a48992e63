"""`sidecar policy whatif`: what a policy change does to the open tickets, before it is made."""

from __future__ import annotations

from sidecar.whatif.collect import Configuration, TicketReader, WhatIf
from sidecar.whatif.compare import (
    Comparison,
    MetricComparison,
    MetricVerdict,
    Reads,
    Side,
    Summary,
    Tally,
    Verdict,
    summarize,
)

__all__ = [
    "Comparison",
    "Configuration",
    "MetricComparison",
    "MetricVerdict",
    "Reads",
    "Side",
    "Summary",
    "Tally",
    "TicketReader",
    "Verdict",
    "WhatIf",
    "summarize",
]
