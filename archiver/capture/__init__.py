"""Capture: fetch URLs byte for byte into WARC records, with a capture-log entry per URL.

See docs/capture.md. The entry point is :func:`crawl`; :class:`Fetcher` fetches one URL.
"""

from archiver.capture.crawl import CaptureResult, CrawlStats, Seed, crawl
from archiver.capture.fetch import Fetcher, FetchResult, HostGate

__all__ = ["CaptureResult", "CrawlStats", "Fetcher", "FetchResult", "HostGate", "Seed", "crawl"]
