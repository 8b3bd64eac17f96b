"""Copying the file log for a backup, and laying a copy out again to restore it.

A backup copies the log *before* the store (`linktrack backup`): a segment the
writer deletes meanwhile held only events it had stored, so the store's later
snapshot has them; every event the copy holds past the snapshot's checkpoint
is stored again by the restored writer, once (event ids are unique).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from linktrack.adapters.eventlog.framing import SEGMENT_DIGITS


def _segments(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.log") if p.stem.isdigit())


def copy_segments(source: Path, dest: Path) -> int:
    """Copy the log's segments, oldest first; returns how many were copied. A segment
    gone before its turn was stored whole; one still growing is copied as far as it is
    written (a record cut at the end is read as not yet written)."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = 0
    for segment in _segments(source):
        try:
            shutil.copyfile(segment, dest / segment.name)
        except FileNotFoundError:
            continue
        copied += 1
    return copied


def restore_segments(source: Path, dest: Path) -> int:
    """Lay copied segments out as a log again, and start a new, empty segment after them:
    the restored store's checkpoint may lie past the end of the copy (the writer had
    stored more than the copy holds), and new clicks must come after it, not inside it."""
    dest.mkdir(parents=True, exist_ok=True)
    segments = _segments(source)
    for segment in segments:
        shutil.copyfile(segment, dest / segment.name)
    after = int(segments[-1].stem) + 1 if segments else 0
    (dest / f"{after:0{SEGMENT_DIGITS}d}.log").touch()
    return len(segments)
