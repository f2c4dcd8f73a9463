"""WARC/1.1 format: write, read (every framing), digest and check records (see docs/warc.md).

Takes in records to write or WARC files to read; hands on records, their offsets and digests,
and the problems found. Knows nothing of the pipeline around it.
"""
