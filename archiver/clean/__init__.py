"""A captured record (bytes, content type, source reference) in; main text and its JSON sidecar out.

See docs/clean.md. ``extract.extract`` is the entry point; ``command`` is `archiver clean`.
"""
