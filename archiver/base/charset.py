"""Turn HTML bytes into ``str``: the one charset decision of collect (links) and clean (text).

Trafilatura guesses encodings on its own and gets Chinese and Cyrillic pages wrong when it is
handed bytes (its issues 79, 231, 541), so we decode first and pass ``str``. Evidence for the
charset is trusted in this order: the HTTP header, a byte-order mark, a ``<meta>`` (or XML)
declaration, then statistical detection with charset-normalizer. A declared charset is only
accepted if the bytes really decode with it (allowing a few stray bytes), because mislabelled
pages are common.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# How much of the page is searched for <meta charset> / fed to the detector: enough for pages
# with long <head> scripts, small enough that detection stays fast on huge pages.
META_SCAN_BYTES = 16 * 1024
DETECT_BYTES = 256 * 1024

# Labels that browsers (WHATWG Encoding Standard) map to a superset; decoding with the superset
# is what the page's author saw on screen.
_SUPERSETS = {
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
}

# Tie-breaker among equally plausible detections: the most common encodings on the web first.
_WEB_PREFERENCE = {
    name: rank
    for rank, name in enumerate(
        ("utf-8", "cp1252", "gb18030", "cp1251", "cp932", "euc_jp", "cp949", "big5hkscs")
    )
}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_META_RE = re.compile(
    rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:+-]+)""", re.IGNORECASE | re.DOTALL
)
_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:+-]+)""")
_CHARSET_PARAM_RE = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:+-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Decoded:
    """The decoded page and how its charset was chosen (recorded in the sidecar)."""

    text: str
    charset: str  # Python codec name actually used, e.g. "utf-8", "gb18030", "cp1251"
    source: str  # "http-header" | "bom" | "meta" | "detected" | "default"
    errors: int = 0  # bytes that could not be decoded and became U+FFFD


GUESS_MIN_BYTES = 1024  # below this, no statistical guess


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset=`` parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    m = _CHARSET_PARAM_RE.search(content_type)
    return m.group(1) if m else None


def codec_for(label: str | None) -> str | None:
    """Map a charset label to a Python codec name, or None if Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _bom_codec(data: bytes) -> str | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    return None


def _meta_codec(data: bytes) -> str | None:
    head = data[:META_SCAN_BYTES]
    m = _XML_DECL_RE.match(head) or _META_RE.search(head)
    codec = codec_for(m.group(1).decode("ascii", "replace")) if m else None
    # A <meta> can only be read if the page is ASCII-compatible, so a UTF-16/32 label there is
    # wrong by construction; browsers treat it as UTF-8.
    if codec and codec.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return codec


def _try(data: bytes, codec: str) -> tuple[str, int] | None:
    """Decode, tolerating at most one bad byte in a thousand; None if the charset is wrong."""
    try:
        return data.decode(codec), 0
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    text = data.decode(codec, errors="replace")
    errors = text.count("\ufffd")
    if errors <= max(1, len(data) // 1000):
        return text, errors
    return None


def _detect(data: bytes) -> str | None:
    if len(data) < GUESS_MIN_BYTES:
        # Too few bytes to guess from (a guess turns "é" into "ť"): UTF-8 if it fits, else
        # windows-1252, the default the WHATWG encoding standard gives undeclared pages.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "cp1252"
        return "utf-8"
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data[:DETECT_BYTES]))
    if not matches:
        return None
    # Least "chaos" (mojibake signs) first, then best language fit, then the encodings most
    # used on the web. charset-normalizer's own ranking can prefer cp1250 over cp1252 for a
    # Spanish page that cp1252 decodes with no chaos at all, turning "¿" into "ż".
    best = min(
        matches,
        key=lambda m: (
            round(m.chaos, 3),
            -round(m.coherence, 3),
            _WEB_PREFERENCE.get(codec_for(m.encoding) or "", len(_WEB_PREFERENCE)),
        ),
    )
    codec = codec_for(best.encoding)
    return "utf-8" if codec == "ascii" else codec


def decode_html(data: bytes, http_charset: str | None = None) -> Decoded:
    """Decode page bytes using the most trusted charset evidence that actually fits the bytes."""
    bom = _bom_codec(data)
    candidates: list[tuple[str | None, str]] = [
        (codec_for(http_charset), "http-header"),
        (bom, "bom"),
        (_meta_codec(data), "meta"),
    ]
    for codec, source in candidates:
        if codec is None:
            continue
        if bom == "utf-8-sig" and codec == "utf-8":
            codec = "utf-8-sig"  # same encoding as the BOM: do not keep U+FEFF in the text
        result = _try(data, codec)
        if result is not None:
            return Decoded(result[0], codec, source, result[1])
    detected = _detect(data) if data else None
    if detected:
        result = _try(data, detected)
        if result is not None:
            return Decoded(result[0], detected, "detected", result[1])
    text = data.decode("utf-8", errors="replace")
    return Decoded(text, "utf-8", "default", text.count("\ufffd"))
