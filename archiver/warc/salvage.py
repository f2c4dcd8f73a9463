"""Salvaging a WARC left open by a crash: keep its complete records, seal it under its name."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from archiver.base.fsutil import fsync_dir
from archiver.warc.naming import final_name

PIECE = 1024 * 1024  # bytes read or written at a time


def salvage_open_file(path: Path, logged_end: int | None = None) -> Path | None:
    """Keep the complete gzip members (records) of a leftover ``.open`` file and seal it.

    Truncates after the last complete member, fsyncs, renames to the final name and fsyncs the
    directory. With ``logged_end`` (a resumed run: where the last record its capture log names
    ends), complete records after it are cut off too: no log entry names them and their URL is
    captured again. The first record (warcinfo) is always kept. Returns the final path, or None
    when not even one record is complete (the file is then left as it is).
    """
    path = Path(path)
    ends = _complete_member_ends(path)
    if not ends:
        return None
    good_end = ends[-1]
    if logged_end is not None:
        good_end = max(ends[0], min(good_end, logged_end))
    with open(path, "r+b") as f:
        f.truncate(good_end)
        f.flush()
        os.fsync(f.fileno())
    final = path.with_name(final_name(path.name))
    os.replace(path, final)
    fsync_dir(path.parent)
    return final


def _complete_member_ends(path: Path) -> list[int]:
    """Byte offsets just past each gzip member that decompresses completely, in order.

    Output is drained in bounded steps (``max_length``) so a member that expands to gigabytes
    never sits in memory; the drain stops at the member's end, where the input left over is in
    ``unused_data`` (``unconsumed_tail`` no longer shrinks there, so it cannot end the loop).
    """
    ends: list[int] = []
    pos = 0  # file offset of buf[0]
    d = zlib.decompressobj(31)
    with open(path, "rb") as f:
        buf = b""
        while True:
            if not buf:
                buf = f.read(PIECE)
                if not buf:
                    return ends
            try:
                data = buf
                while True:
                    d.decompress(data, PIECE)
                    if d.eof:
                        break
                    data = d.unconsumed_tail
                    if not data:
                        break
            except zlib.error:
                return ends
            if d.eof:
                rest = d.unused_data  # a suffix of buf: the bytes after this member
                pos += len(buf) - len(rest)
                ends.append(pos)
                buf = rest
                d = zlib.decompressobj(31)
            else:
                pos += len(buf)
                buf = b""
