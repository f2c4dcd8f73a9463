"""WARC/1.1 writing, reading and checking (see docs/warc.md)."""

from archiver.warc.check import WarcCheck, check_warc
from archiver.warc.reader import WarcFormatError, WarcRecord, iter_records, read_record_at
from archiver.warc.writer import NewRecord, RecordRef, WarcWriter, salvage_open_file

__all__ = [
    "NewRecord",
    "RecordRef",
    "WarcCheck",
    "WarcFormatError",
    "WarcRecord",
    "WarcWriter",
    "check_warc",
    "iter_records",
    "read_record_at",
    "salvage_open_file",
]
