"""How many periods a link click series holds, as Customer.io's link metrics count them.

Shared by the API's `/metrics/links` and the dashboard's chart, so both draw
the same buckets.
"""

from __future__ import annotations

from typing import Final

from linktrack.core.errors import InputError

PERIODS: Final = ("hours", "days", "weeks", "months")
# Customer.io's bounds of a link series: at most 24 hours, 45 days, 12 weeks, 121 months.
MAX_STEPS: Final = {"hours": 24, "days": 45, "weeks": 12, "months": 121}
DEFAULT_STEPS: Final = {**MAX_STEPS, "months": 12}


def series_steps(period: str, value: str | None) -> int:
    """How many `period`s a series holds, as Customer.io counts them.

    Absent: the period's maximum (12 for months). `0`: the maximum. At least 2
    (`steps=1` is the last two periods); more than the maximum is the maximum.
    """
    if value is None:
        return DEFAULT_STEPS[period]
    if not (value.isascii() and value.isdigit()):
        raise InputError("steps must be an integer, 0 or more")
    digits = value.lstrip("0") or "0"
    steps = int(digits) if len(digits) <= 6 else MAX_STEPS[period]
    if steps == 0:
        return MAX_STEPS[period]
    return min(max(steps, 2), MAX_STEPS[period])
