"""Retention: delete submissions nobody picked up within N days (default 30).

A seized server should hold as little as possible. The age of a submission is its file's
mtime, which the source-facing server sets to midnight UTC of the day it was received: a
submission received on day D is deleted from D + N days (00:00 UTC) on.

Runs periodically inside the pickup listener and as `leakdrop expire --storage DIR
[--days N]`. Reports counts only: never an id, a name, a size or a day.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from leakdrop._times import blur_change_times
from leakdrop.layout import SUBMISSIONS
from leakdrop.pickup.store import delete_submission, scan_submissions

__all__ = ["DEFAULT_DAYS", "ExpiryResult", "expire_submissions", "run_expire"]

DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 3650
_DAY: Final = 86_400


@dataclass(frozen=True)
class ExpiryResult:
    expired: int
    kept: int
    #: Entries in submissions/ that are not submissions (left alone; the admin should look).
    other: int

    def _other_text(self) -> str:
        if not self.other:
            return ""
        return f"{self.other} unexpected entr{'y' if self.other == 1 else 'ies'} left alone"

    def describe(self) -> str:
        """For the admin who runs `leakdrop expire` by hand: what was deleted and kept."""
        text = f"expired {self.expired} submission(s), {self.kept} kept"
        if self.other:
            text += f"; {self._other_text()}"
        return text

    def describe_for_log(self) -> str:
        """For the listener's periodic log, "" when there is nothing to say.

        Never the number kept: the log's lines are timestamped by whatever collects them
        (Docker), and a count of waiting submissions at each hourly pass would date every
        arrival (and every pickup) to the hour. Expiries happen at day boundaries, which
        the files' day-rounded times already tell.
        """
        parts = [f"expired {self.expired} submission(s)"] if self.expired else []
        if self.other:
            parts.append(self._other_text())
        return "; ".join(parts)


def expire_submissions(storage: Path, days: int, *, now: float | None = None) -> ExpiryResult:
    """Delete every submission whose mtime is `days` days old or more."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    cutoff = (time.time() if now is None else now) - days * _DAY
    found, other = scan_submissions(storage)
    expired = kept = 0
    for sub in found:
        if sub.mtime <= cutoff:
            if delete_submission(sub.path):
                expired += 1
        else:
            kept += 1
    # Each pass also refreshes the change times of what is kept (they cannot be set back
    # to the day): after it, not even the latest submission's exact time is left on disk.
    blur_change_times(storage / SUBMISSIONS)
    return ExpiryResult(expired=expired, kept=kept, other=other)


def parse_days(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_DAYS
    try:
        days = int(text)
    except ValueError as exc:
        raise ValueError(f"days must be a whole number, not {text!r}") from exc
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    return days


def run_expire(args: argparse.Namespace) -> int:
    if not args.storage:
        print("leakdrop expire: no storage: use --storage DIR or LEAKDROP_STORAGE", file=sys.stderr)
        return 2
    try:
        days = parse_days(args.days)
        result = expire_submissions(Path(args.storage), days)
    except ValueError as exc:
        print(f"leakdrop expire: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"leakdrop expire: {args.storage}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"leakdrop expire: {result.describe()} (retention {days} days)")
    return 0
