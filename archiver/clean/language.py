"""Language of the extracted text, not of the page's ``lang`` attribute.

Pages often declare the site's default language (or none, or a wrong one), so we identify the
language from the text we actually kept, with py3langid (BSD-3-Clause, no network, no model
download). Very short texts are not classified: a guess there is noise, and noise in evidence
metadata is worse than no value.
"""

from __future__ import annotations

import threading
from typing import Any

MIN_LETTERS = 20  # below this, no guess
SAMPLE_CHARS = 5_000  # classification time stays flat on very long texts
MIN_PROBABILITY = 0.5

_lock = threading.Lock()
_identifier: Any = None


def _get_identifier() -> Any:
    """Load the model once (about 0.7 s), on first use, from whichever thread gets there first."""
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def detect_language(text: str) -> tuple[str | None, float | None]:
    """Return (ISO 639-1 code, probability); no code when the text is too short or unclear."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample[:2000]) < MIN_LETTERS:
        return None, None
    lang, prob = _get_identifier().classify(sample)
    prob = round(float(prob), 4)
    if prob < MIN_PROBABILITY:
        return None, prob
    return str(lang), prob
