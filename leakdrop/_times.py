"""Times the storage keeps: the day, never the moment (standard library only).

Both the source-facing server (which writes submissions) and the pickup listener (which
deletes them and runs the retention pass) use this, so that no file or folder in the storage
tells when in the day a source came.

A file's modification and access times can be set (to midnight UTC of the day); its inode
change time (ctime) cannot: every rename, utime or chmod sets it to *now*. Left alone, each
submission's ctime would be the exact second it was received. `blur_change_times` re-sets
every submission's change time at once (keeping its day-rounded mtime and atime), so all of
them carry the same change time: that of the latest refresh, which happens at every commit
and at every retention pass. A seized storage then dates the latest event only, not each
submission.
"""

from __future__ import annotations

import contextlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["blur_change_times", "day_timestamp"]


def day_timestamp() -> float:
    """00:00 UTC today, as a POSIX time."""
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def blur_change_times(folder: Path) -> None:
    """Refresh the change time of every regular file in `folder`, and of `folder`.

    Modification times are kept (retention counts days from them) and access times are set
    to them (day-rounded, as the server writes them). Never follows a symlink; a file that
    disappears meanwhile (picked up, expired) is skipped. Raises OSError only when the
    folder itself cannot be listed.
    """
    with os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    mtime = st.st_mtime_ns
                    os.utime(entry.path, ns=(mtime, mtime), follow_symlinks=False)
    # The folder last: its own change time then moves no later than its files'.
    st = os.stat(folder, follow_symlinks=False)
    with contextlib.suppress(OSError):
        os.utime(folder, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)
