"""A seed (URL, hops, citations) in; WARC records and one capture-log entry per URL out.

See docs/capture.md. The entry point is ``crawl.crawl``; ``fetch.Fetcher`` fetches one URL.
"""
