"""No-show rechecks: when the invitees of a meeting that ended are read again.

Marking a no-show (``POST /invitee_no_shows``) changes nothing on the event:
not its ``updated_at``, not its ``invitees_counter``. Fingerprints cannot see
it, and hosts mark no-shows late: most within a day, some weeks after. So the
invitees of an ended meeting are re-read on a schedule of ages after its end,
``no_show_rechecks`` (default ``1h,1d..7d,10d,14d,21d,30d``): a meeting is due when
one of its ages has passed since the last time its invitees were read
(``scheduled_events.invitees_read_at``, kept by the source). However often
the pipeline runs, each ended meeting's invitees are re-read at most once per
age, and never after the last age (unless the event itself changes). A run
that comes late (a skipped day) still rechecks every age passed meanwhile.

The windows a run reads reach back far enough for every due recheck
(:func:`recheck_reach`), whatever ``lookback_days`` says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from calendly_elt.errors import ConfigError

# daily for the first week (where most late marks fall), then 10, 14, 21 and 30 days
DEFAULT_NO_SHOW_RECHECKS = "1h,1d..7d,10d,14d,21d,30d"
MAX_RECHECK_AGES = 1000
MAX_RECHECK_AGE = timedelta(days=3650)
# meetings are listed by start time: reach back by this much more than the last age
LONGEST_MEETING = timedelta(days=1)
_AGE = re.compile(r"^\s*(?P<number>\d+)\s*(?P<unit>[mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_OFF = ("off", "none")


@dataclass(frozen=True)
class NoShowRecheck:
    """The recheck schedule: ages after a meeting's end at which its invitees are re-read.

    Attributes:
        ages: Ascending, distinct, positive; empty turns rechecks off.
    """

    ages: tuple[timedelta, ...]

    def due(self, event: Mapping[str, Any], last_read: datetime | None, now: datetime) -> bool:
        """Whether ``event`` is due a recheck at ``now``.

        Args:
            event: The event as listed (``end_time`` an aware datetime).
            last_read: When its invitees were last read (None: not known).
            now: The run's now.
        """
        end_time = event.get("end_time")
        if not isinstance(end_time, datetime):
            return True
        passed = [end_time + age for age in self.ages if end_time + age <= now]
        if not passed:
            return False
        return last_read is None or last_read < passed[-1]


def recheck_reach(ages: tuple[timedelta, ...]) -> timedelta:
    """How far before the last successful run the windows must start for every due recheck."""
    return ages[-1] + LONGEST_MEETING if ages else timedelta(0)


def parse_recheck_ages(value: Any) -> tuple[timedelta, ...]:
    """Parse ``no_show_rechecks``: ``"1h,1d,3d"``, a list of such ages, or ``off``.

    ``a..b`` is every age from ``a`` to ``b`` in steps of one of ``a``'s unit
    (``1d..7d``: every day of the first week).

    Raises:
        ConfigError: An age is not a whole number of minutes (m), hours (h) or
            days (d), is zero, or is longer than ten years; a range's ends have
            different units or run backwards; more than 1,000 ages.
    """
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    texts = [str(item).strip().lower() for item in items if str(item).strip()]
    if texts in ([], *([word] for word in _OFF)):
        return ()
    ages = sorted({age for text in texts for age in _parse_item(text)})
    if len(ages) > MAX_RECHECK_AGES:
        raise ConfigError(f"no_show_rechecks has {len(ages)} ages; at most 1000")
    return tuple(ages)


def _parse_item(text: str) -> list[timedelta]:
    """One age, or every age of a ``a..b`` range."""
    if ".." not in text:
        return [_parse_age(text)]
    first_text, _, last_text = text.partition("..")
    first, last = _parse_age(first_text), _parse_age(last_text)
    unit = first_text.strip()[-1]
    if last_text.strip()[-1] != unit or last < first:
        raise ConfigError(
            f"no_show_rechecks range {text!r} must run upwards in one unit, like 1d..7d"
        )
    step = timedelta(**{_UNITS[unit]: 1})
    count = (last - first) // step + 1
    if count > MAX_RECHECK_AGES:
        raise ConfigError(f"no_show_rechecks range {text!r} has {count} ages; at most 1000")
    return [first + step * index for index in range(count)]


def _parse_age(text: str) -> timedelta:
    found = _AGE.match(text)
    if not found:
        raise ConfigError(
            "no_show_rechecks must be ages after a meeting's end like 1h,1d,3d,7d "
            f"(m, h or d), or off; got {text!r}"
        )
    age = timedelta(**{_UNITS[found["unit"]]: int(found["number"])})
    if not timedelta(0) < age <= MAX_RECHECK_AGE:
        raise ConfigError(f"no_show_rechecks ages must be above 0 and at most 3650d, got {text!r}")
    return age
