"""WARC verdicts across format eras: sound old files pass, ambiguous evidence fails.

Every input is written here by hand (or with warcio), following the WARC 0.17 draft, WARC 1.0/1.1
and the ARC file format description.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.warc.check import check_warc
from archiver.warc.digest import label
from tests.warc.helpers import HTML, arc_bytes


def record(
    fields: list[tuple[str, str]], block: bytes, version: bytes = b"WARC/1.0", *, digest=True
) -> bytes:
    """One uncompressed record with Content-Length (and a correct block digest) filled in."""
    extra = [("WARC-Block-Digest", label("sha1", hashlib.sha1(block).digest()))] if digest else []
    head = [*fields, *extra, ("Content-Length", str(len(block)))]
    text = "".join(f"{k}: {v}\r\n" for k, v in head).encode()
    return version + b"\r\n" + text + b"\r\n" + block + b"\r\n\r\n"


def base(n: int, rtype: str = "resource", **over: str) -> list[tuple[str, str]]:
    fields = {
        "WARC-Type": rtype,
        "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>",
        "WARC-Date": "2008-04-30T20:48:25Z",
        "WARC-Target-URI": f"http://example.org/{n}",
        "Content-Type": "text/plain",
    }
    for key, value in over.items():
        name = key.replace("_", "-")
        fields[name if name in fields else f"WARC-{name}"] = value
    return list(fields.items())


def codes(path: Path) -> Counter[str]:
    return Counter(p.code for p in check_warc(path).problems)


def errors(path: Path) -> set[str]:
    return {p.code for p in check_warc(path).problems if p.severity == "error"}


def http_response(n: int, body: bytes, version: bytes = b"WARC/1.0") -> bytes:
    block = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    fields = base(n, "response", Content_Type="application/http; msgtype=response")
    fields.append(("WARC-Payload-Digest", label("sha1", hashlib.sha1(body).digest())))
    return record(fields, block, version)


# -- long header lines ------------------------------------------------------------------------


def test_header_line_over_64_kib_does_not_hide_later_records(tmp_path: Path) -> None:
    long_uri = "http://example.org/?q=" + "x" * 100_000
    data = record(base(1, Target_URI=long_uri), b"a")
    data += record(base(2), b"second record")
    path = tmp_path / "long.warc"
    path.write_bytes(data)
    result = check_warc(path)
    assert result.records == 2 and result.ok, result.problems
    gz = tmp_path / "long.warc.gz"
    gz.write_bytes(b"".join(gzip.compress(r) for r in _split(data)))
    assert check_warc(gz).records == 2 and check_warc(gz).ok


def _split(data: bytes) -> list[bytes]:
    parts = data.split(b"\r\n\r\nWARC/")
    return (
        [parts[0] + b"\r\n\r\n"]
        + [b"WARC/" + p + b"\r\n\r\n" for p in parts[1:-1]]
        + ([b"WARC/" + parts[-1]] if len(parts) > 1 else [])
    )


def test_70_kb_location_header_in_a_redirect(tmp_path: Path) -> None:
    """A hostile server's huge Location: warcio writes it; we read it and the records after."""
    target = "http://example.org/next?" + "y" * 70_000
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    head = StatusAndHeaders("301 Moved", [("Location", target)], protocol="HTTP/1.1")
    writer.write_record(
        writer.create_warc_record("http://example.org/", "response", http_headers=head)
    )
    head2 = StatusAndHeaders("200 OK", [("Content-Type", "text/plain")], protocol="HTTP/1.1")
    writer.write_record(
        writer.create_warc_record(
            target, "response", payload=io.BytesIO(b"landed"), http_headers=head2
        )
    )
    path = tmp_path / "redirect.warc.gz"
    path.write_bytes(buf.getvalue())
    result = check_warc(path)
    assert result.records == 2 and result.ok, result.problems


# -- version eras ----------------------------------------------------------------------------


def test_warc_0_17_crawl_is_sound_with_one_warning_per_file(tmp_path: Path) -> None:
    """Heritrix 1.x wrote WARC/0.17; a sound crawl is readable evidence, not 800 errors."""
    data = b"".join(http_response(i, b"page %d" % i, b"WARC/0.17") for i in range(5))
    data += http_response(9, b"page 0.18", b"WARC/0.18")
    path = tmp_path / "heritrix.warc"
    path.write_bytes(data)
    result = check_warc(path)
    assert result.ok, result.problems
    assert codes(path) == Counter({"warc-old-version": 2})  # one per era: 0.17 and 0.18
    messages = " | ".join(p.message for p in result.problems)
    assert "5 record(s) are WARC/0.17" in messages and "1 record(s) are WARC/0.18" in messages


def test_unknown_version_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "v2.warc"
    path.write_bytes(record(base(1), b"x", b"WARC/2.0"))
    assert "warc-unknown-version" in errors(path)


def test_lower_case_version_line_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "lower.warc"
    path.write_bytes(record(base(1), b"one", b"warc/1.0") + record(base(2), b"two"))
    result = check_warc(path)
    assert result.records == 2 and result.ok, result.problems
    assert codes(path) == Counter({"warc-version-case": 1})


def test_continuation_segments_get_no_whole_payload_check(tmp_path: Path) -> None:
    body = b"A" * 50 + b"B" * 50
    whole = label("sha1", hashlib.sha1(body).digest())
    first_block = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + body[:50]
    first = base(1, "response", Content_Type="application/http; msgtype=response")
    first += [("WARC-Payload-Digest", whole), ("WARC-Segment-Number", "1")]
    cont = [
        ("WARC-Type", "continuation"),
        ("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000002>"),
        ("WARC-Date", "2008-04-30T20:48:25Z"),
        ("WARC-Target-URI", "http://example.org/1"),
        ("WARC-Segment-Origin-ID", "<urn:uuid:00000000-0000-4000-8000-000000000001>"),
        ("WARC-Segment-Number", "2"),
        ("WARC-Segment-Total-Length", str(len(first_block) + 50)),
        ("WARC-Payload-Digest", whole),
    ]
    path = tmp_path / "segments.warc"
    path.write_bytes(record(first, first_block) + record(cont, body[50:]))
    result = check_warc(path)
    assert result.ok and not result.problems, result.problems


# -- broken evidence ------------------------------------------------------------------------


def test_two_dates_are_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "dates.warc"
    path.write_bytes(record([*base(1), ("WARC-Date", "2019-01-01T00:00:00Z")], b"x"))
    assert "warc-repeated-header" in errors(path)


def test_same_field_twice_with_the_same_value_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "same.warc"
    path.write_bytes(record([*base(1), ("Content-Type", "text/plain")], b"x"))
    assert codes(path) == Counter({"warc-repeated-header-same": 1})


def test_concurrent_to_may_repeat(tmp_path: Path) -> None:
    refs = [("WARC-Concurrent-To", f"<urn:uuid:{i}>") for i in range(3)]
    path = tmp_path / "conc.warc"
    path.write_bytes(record([*base(1, "metadata"), *refs], b"x"))
    assert not check_warc(path).problems


@pytest.mark.parametrize(
    "date", ["blue monday", "2019-02-30T00:00:00Z", "2019-01-01 00:00:00", "20190101000000"]
)
def test_date_that_is_not_w3c_dtf(tmp_path: Path, date: str) -> None:
    path = tmp_path / "date.warc"
    path.write_bytes(record(base(1, Date=date), b"x"))
    assert "warc-bad-date" in errors(path)


def test_coarse_w3c_dtf_date_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "date.warc"
    path.write_bytes(record(base(1, Date="2019-01-01T10:00+02:00"), b"x"))
    assert codes(path) == Counter({"warc-date-form": 1})


def test_record_id_that_is_not_a_uri(tmp_path: Path) -> None:
    path = tmp_path / "zaphod.warc"
    path.write_bytes(record(base(1, Record_ID="<zaphod>"), b"x"))
    assert "warc-bad-record-id" in errors(path)
    path.write_bytes(record(base(1, Record_ID="urn:uuid:1234"), b"x"))
    assert codes(path) == Counter({"warc-record-id-brackets": 1})


@pytest.mark.parametrize("missing", ["WARC-Date", "WARC-Type", "WARC-Target-URI"])
def test_missing_mandatory_fields(tmp_path: Path, missing: str) -> None:
    fields = [(k, v) for k, v in base(1, "response") if k != missing]
    path = tmp_path / "missing.warc"
    path.write_bytes(record(fields, b"HTTP/1.1 200 OK\r\n\r\n"))
    assert "warc-missing-header" in errors(path)


def test_missing_record_id_and_length(tmp_path: Path) -> None:
    path = tmp_path / "noid.warc"
    path.write_bytes(record([(k, v) for k, v in base(1) if k != "WARC-Record-ID"], b"x"))
    assert "warc-missing-record-id" in errors(path)
    path.write_bytes(b"WARC/1.0\r\nWARC-Type: resource\r\n\r\n" + record(base(2), b"x"))
    assert "warc-framing" in errors(path)


def test_digest_mismatch_shows_expected_and_found(tmp_path: Path) -> None:
    path = tmp_path / "flip.warc"
    path.write_bytes(record(base(1), b"hello").replace(b"hello", b"jello"))
    (problem,) = check_warc(path).problems
    want = label("sha1", hashlib.sha1(b"hello").digest())
    got = label("sha1", hashlib.sha1(b"jello").digest())
    assert want in problem.message and got in problem.message


# -- ARC ------------------------------------------------------------------------------------


HTML += b"</p></main></body></html>\n"


@pytest.mark.parametrize("name", ["old.arc", "old.arc.gz"])
def test_arc_file_is_read_and_reported_as_arc(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    parts = arc_bytes()
    path.write_bytes(
        b"".join(gzip.compress(p) for p in parts) if name.endswith("gz") else b"".join(parts)
    )
    result = check_warc(path)
    assert result.format == "arc" and result.records == 2 and result.ok
    assert codes(path) == Counter({"arc-file": 1})


def test_truncated_arc_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.arc"
    path.write_bytes(b"".join(arc_bytes())[:-200])
    assert errors(path), check_warc(path).problems


def test_reports_quote_only_an_excerpt_of_huge_header_values(tmp_path: Path) -> None:
    huge = "x" * 200_000
    fields = base(1, Target_URI=f"http://example.org/{huge}", Date=huge, Record_ID=f"<{huge}>")
    fields.append(("WARC-Payload-Digest", f"sha1:{huge}"))
    path = tmp_path / "huge.warc"
    path.write_bytes(
        record(fields, b"x").replace(b"WARC-Block-Digest: sha1:", b"WARC-Block-Digest: sha1:A")
    )
    result = check_warc(path)
    assert {"warc-bad-date", "warc-bad-record-id", "warc-unreadable-digest"} <= errors(path)
    assert result.records == 1
    assert all(len(p.message) < 1200 for p in result.problems), [
        len(p.message) for p in result.problems
    ]


def test_header_block_over_1_mib_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "big.warc"
    big = record(base(2, Target_URI="http://e.org/" + "x" * 1_100_000), b"x")
    path.write_bytes(record(base(1), b"a") + big + record(base(3), b"c"))
    result = check_warc(path)
    assert result.records == 2, result.problems  # the records before and after are read
    assert result.problems[0].code == "warc-framing"
    assert "over 1 MiB" in result.problems[0].message
    assert len(result.problems) <= 2 and all(p.code == "warc-framing" for p in result.problems)
