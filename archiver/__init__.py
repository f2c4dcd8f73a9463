"""archiver: preserve cited web pages as evidence that survives link rot and challenge."""

__version__ = "0.1.0"
SOFTWARE = f"archiver/{__version__}"
