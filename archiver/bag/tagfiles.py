"""Reading and writing BagIt tag files: bagit.txt, bag-info.txt, manifests and fetch.txt.

Parsing is hand-written because no maintained library parses tag files strictly enough for a
validator (bagit-python accepts extra lines, wrong order and stray whitespace) while still
streaming large manifests line by line. Parsers yield problems instead of raising.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archiver.bag.paths import encode_path
from archiver.base.problems import Problem, Severity

BOM_UTF8 = b"\xef\xbb\xbf"
BAGIT_TXT_1_0 = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"

_VERSION_LINE = re.compile(r"^BagIt-Version: (\d+)\.(\d+)$")
_ENCODING_LINE = re.compile(r"^Tag-File-Character-Encoding: (\S+)$")
_LOOSE_VERSION = re.compile(r"^\s*BagIt-Version\s*:\s*(.*?)\s*$")
_LOOSE_ENCODING = re.compile(r"^\s*Tag-File-Character-Encoding\s*:\s*(.*?)\s*$")
_MANIFEST_LINE = re.compile(r"^(\S+)([ \t]+)(.+)$")
_FETCH_LINE = re.compile(r"^(\S+)[ \t]+(\S+)[ \t]+(.+)$")
_NEWLINE = re.compile(r"\r\n|\r|\n")
KNOWN_VERSIONS = {(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)}


@dataclass(frozen=True)
class BagitTxt:
    version: tuple[int, int]  # (1, 0) when it could not be read: validate by the newest rules
    encoding: str  # a Python codec name; "utf-8" when unreadable
    version_text: str


EXCERPT = 120  # characters of a bad input line a report may echo


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """At most ``limit`` characters of input text: a 10 MB line must not fill a report."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def split_lines(text: str) -> list[str]:
    """Split on LF, CR or CRLF only (``str.splitlines`` also splits on VT, FF, U+2028...)."""
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_bagit_txt(data: bytes, problems: list[Problem]) -> BagitTxt:
    """Check bagit.txt byte for byte: two lines, in order, no BOM, UTF-8."""
    p = "bagit.txt"
    if data.startswith(BOM_UTF8):
        problems.append(Problem("bagit-txt-bom", p, "bagit.txt starts with a byte-order mark"))
        data = data[len(BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(Problem("bagit-txt-encoding", p, "bagit.txt is not valid UTF-8"))
        text = data.decode("utf-8", "replace")
    lines = split_lines(text)
    version_text = ""
    enc_text = ""
    for line in lines:
        if m := _LOOSE_VERSION.match(line):
            version_text = version_text or m.group(1)
        elif m := _LOOSE_ENCODING.match(line):
            enc_text = enc_text or m.group(1)
    version = _bagit_version(version_text, problems)
    _check_bagit_txt_shape(lines, version >= (1, 0), problems)
    encoding = _tag_encoding(enc_text, problems)
    return BagitTxt(version, encoding, version_text)


def _bagit_version(version_text: str, problems: list[Problem]) -> tuple[int, int]:
    """The declared BagIt-Version as (major, minor); (1, 0) when missing or unreadable."""
    p = "bagit.txt"
    version = (1, 0)
    vm = re.fullmatch(r"(\d+)\.(\d+)", version_text)
    if not version_text:
        problems.append(Problem("bagit-txt-version-missing", p, "bagit.txt has no BagIt-Version"))
    elif not vm:
        problems.append(
            Problem(
                "bagit-txt-version-invalid",
                p,
                f"BagIt-Version {excerpt(version_text)!r} is not M.N",
            )
        )
    else:
        version = (int(vm.group(1)), int(vm.group(2)))
        if version not in KNOWN_VERSIONS:
            problems.append(
                Problem(
                    "bagit-version-unknown",
                    p,
                    f"BagIt-Version {excerpt(version_text)} is not a published version "
                    "(0.93-0.97 or 1.0): the bag's rules are unknown, so it cannot be VALID",
                )
            )
    return version


def _check_bagit_txt_shape(lines: list[str], strict: bool, problems: list[Problem]) -> None:
    """Exactly the two lines, one space after each colon (only a warning before BagIt 1.0)."""
    p = "bagit.txt"
    shape_ok = (
        len(lines) == 2
        and bool(_VERSION_LINE.match(lines[0]))
        and bool(_ENCODING_LINE.match(lines[1]))
    )
    if not shape_ok:
        msg = (
            "bagit.txt must be exactly two lines, 'BagIt-Version: M.N' then "
            "'Tag-File-Character-Encoding: ENC', with one space after each colon"
        )
        loose_ok = (
            len(lines) == 2
            and bool(_LOOSE_VERSION.match(lines[0]))
            and bool(_LOOSE_ENCODING.match(lines[1]))
        )
        if strict or not loose_ok:
            problems.append(Problem("bagit-txt-malformed", p, msg))
        else:
            problems.append(Problem("bagit-txt-whitespace", p, msg, "warning"))


def _tag_encoding(enc_text: str, problems: list[Problem]) -> str:
    """The Python codec name of the declared tag file encoding; utf-8 when missing or unknown."""
    p = "bagit.txt"
    encoding = "utf-8"
    if not enc_text:
        problems.append(
            Problem("bagit-txt-encoding-missing", p, "bagit.txt has no Tag-File-Character-Encoding")
        )
    else:
        try:
            encoding = codecs.lookup(enc_text).name
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            problems.append(
                Problem(
                    "bagit-txt-encoding-unknown",
                    p,
                    f"unknown tag file encoding {excerpt(enc_text)!r}",
                )
            )
        if encoding != "utf-8":
            problems.append(
                Problem(
                    "tag-encoding-not-utf8",
                    p,
                    f"tag files are declared as {excerpt(enc_text)}; BagIt recommends UTF-8",
                    "warning",
                )
            )
    return encoding


def read_tag_lines(
    path: Path, rel: str, encoding: str, version: tuple[int, int], problems: list[Problem]
) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without its LF/CR/CRLF) from a tag file, streaming.

    A UTF-8 byte-order mark is reported (an error from 1.0, where RFC 8493 forbids it) and
    skipped; a decoding failure is reported and ends the file.
    """
    try:
        f = open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed below
    except OSError as e:
        problems.append(Problem("tag-file-unreadable", rel, f"cannot read: {e.strerror}"))
        return
    with f:
        try:
            for n, raw in enumerate(f, 1):
                line = raw.rstrip("\r\n") if raw.endswith("\n") else raw.rstrip("\r")
                if n == 1 and line.startswith("\ufeff"):
                    if encoding == "utf-8":
                        sev: Severity = "error" if version >= (1, 0) else "warning"
                        problems.append(
                            Problem("tag-file-bom", rel, "starts with a UTF-8 byte-order mark", sev)
                        )
                    line = line[1:]
                yield n, line
        except UnicodeDecodeError as e:
            problems.append(
                Problem("tag-file-encoding", rel, f"is not valid {encoding} (byte {e.start})")
            )


@dataclass(frozen=True)
class ManifestLine:
    line: int
    checksum: str  # lower-cased
    raw_path: str  # as written (after any '*' or './' clean-up, before percent-decoding)


def parse_manifest_line(
    n: int, line: str, rel: str, problems: list[Problem]
) -> ManifestLine | None:
    """One manifest line: checksum, one or more spaces/tabs, path (which may contain spaces)."""
    if not line.strip():
        return None
    m = _MANIFEST_LINE.match(line)
    if not m:
        problems.append(
            Problem("manifest-line-malformed", rel, f"line {n} is not 'checksum  path'")
        )
        return None
    checksum, sep, path = m.group(1), m.group(2), m.group(3)
    if sep == " " and path.startswith("*") and len(path) > 1:
        problems.append(
            Problem(
                "manifest-md5sum-star",
                rel,
                f"line {n} uses the md5sum binary marker '*' before the path",
                "warning",
            )
        )
        path = path[1:]
    if path.startswith("./"):
        problems.append(
            Problem(
                "manifest-leading-dot-slash", rel, f"line {n} starts its path with './'", "warning"
            )
        )
        path = path[2:]
    return ManifestLine(n, checksum.lower(), path)


@dataclass(frozen=True)
class FetchLine:
    line: int
    url: str
    length: str
    raw_path: str


def parse_fetch_line(n: int, line: str, problems: list[Problem]) -> FetchLine | None:
    """One fetch.txt line: url, length (integer or '-'), path. A blank line is reported."""
    if not line.strip():
        problems.append(
            Problem(
                "fetch-blank-line",
                "fetch.txt",
                f"line {n} is blank; every fetch.txt line must be 'url length path'",
                "warning",
            )
        )
        return None
    m = _FETCH_LINE.match(line)
    if not m:
        problems.append(
            Problem("fetch-line-malformed", "fetch.txt", f"line {n} is not 'url length path'")
        )
        return None
    url, length, path = m.groups()
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$", url) and not re.match(
        r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", url
    ):
        problems.append(
            Problem(
                "fetch-url-invalid",
                "fetch.txt",
                f"line {n}: {excerpt(url)!r} is not an absolute URI",
            )
        )
    if length != "-" and not length.isdigit():
        problems.append(
            Problem(
                "fetch-length-invalid",
                "fetch.txt",
                f"line {n}: length {excerpt(length)!r} is neither an integer nor '-'",
            )
        )
    return FetchLine(n, url, length, path)


def parse_bag_info(
    lines: Iterator[tuple[int, str]],
    version: tuple[int, int],
    problems: list[Problem],
    rel: str = "bag-info.txt",
) -> list[tuple[str, str]]:
    """Parse ``Label: value`` elements in file order, joining indented continuation lines.

    From 1.0 a label must not start or end with whitespace; earlier versions allowed
    ``Label : value`` and are read leniently.
    """
    items: list[tuple[str, str]] = []
    for n, line in lines:
        if not line.strip():
            continue
        if line[0] in " \t":
            if not items:
                problems.append(
                    Problem("bag-info-malformed", rel, f"line {n} continues no element")
                )
            else:
                label, value = items[-1]
                items[-1] = (label, f"{value} {line.strip()}".strip())
            continue
        if ":" not in line:
            problems.append(Problem("bag-info-malformed", rel, f"line {n} has no 'Label: value'"))
            continue
        label, value = line.split(":", 1)
        if label != label.strip():
            if version >= (1, 0):
                problems.append(
                    Problem(
                        "bag-info-label-whitespace",
                        rel,
                        f"line {n}: the label {excerpt(label.strip())!r} has whitespace around it",
                    )
                )
            label = label.strip()
        if not label:
            problems.append(Problem("bag-info-malformed", rel, f"line {n} has an empty label"))
            continue
        if version >= (1, 0) and value and value[0] not in " \t":
            problems.append(
                Problem(
                    "bag-info-separator",
                    rel,
                    f"line {n}: no space after the colon following {excerpt(label)!r}",
                    "warning",
                )
            )
        items.append((label, value.strip()))
    return items


def format_bag_info(items: list[tuple[str, str]]) -> str:
    return "".join(f"{label}: {value}\n" for label, value in items)


def format_manifest(entries: list[tuple[str, str]]) -> str:
    """``<hex>  <path>`` lines (two spaces, as sha256sum writes), sorted by encoded path."""
    encoded = sorted((encode_path(path), digest) for path, digest in entries)
    return "".join(f"{digest}  {path}\n" for path, digest in encoded)
