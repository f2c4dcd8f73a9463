"""BagIt verdicts across versions 0.93-1.0, on bags written here as older tools wrote them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from archiver.bag.validate import validate_bag
from tests.helpers import archiver

FILES = {"data/a.txt": b"first file\n", "data/sub/b.txt": b"second, longer file\n"}


def make_bag(
    root: Path,
    version: str,
    *,
    info_name: str | None = "bag-info.txt",
    info: str = "",
    files: dict[str, bytes] = FILES,
    extra_manifest: str = "",
) -> Path:
    """A bag with an MD5 payload manifest (what the 0.9x tools wrote)."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "bagit.txt").write_text(
        f"BagIt-Version: {version}\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
    )
    if info_name:
        (root / info_name).write_text(info, encoding="utf-8")
    lines = "".join(f"{hashlib.md5(d).hexdigest()}  {r}\n" for r, d in sorted(files.items()))
    (root / "manifest-md5.txt").write_text(lines + extra_manifest, encoding="utf-8")
    return root


def oxum(files: dict[str, bytes] = FILES) -> str:
    return f"{sum(len(d) for d in files.values())}.{len(files)}"


def codes(bag: Path, severity: str | None = None) -> set[str]:
    return validate_bag(bag).codes(severity)


def test_unknown_bagit_version_is_never_valid(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", "2.0", info=f"Payload-Oxum: {oxum()}\n")
    report = validate_bag(bag)
    assert not report.valid
    assert "bagit-version-unknown" in report.codes("error")
    proc = archiver("verify", str(bag))
    assert proc.returncode == 1 and "INVALID" in proc.stdout


def test_package_info_oxum_of_a_0_95_bag_is_read(tmp_path: Path) -> None:
    """BagIt 0.93-0.95 called bag-info.txt package-info.txt; its Payload-Oxum counts."""
    good = make_bag(
        tmp_path / "good",
        "0.95",
        info_name="package-info.txt",
        info=f"Source-Organization: Spengler University\nPayload-Oxum: {oxum()}\n",
    )
    assert "payload-oxum-missing" not in codes(good)
    assert validate_bag(good).valid
    bad = make_bag(
        tmp_path / "bad", "0.93", info_name="package-info.txt", info="Payload-Oxum: 999.9\n"
    )
    assert "payload-oxum-mismatch" in codes(bad, "error")


def test_0_96_payload_manifest_may_list_tag_files(tmp_path: Path) -> None:
    info = f"Payload-Oxum: {oxum()}\n"
    tag_line = f"{hashlib.md5(info.encode()).hexdigest()}  bag-info.txt\n"
    bag = make_bag(tmp_path / "bag", "0.96", info=info, extra_manifest=tag_line)
    report = validate_bag(bag)
    assert report.valid, report.errors
    assert "payload-manifest-lists-tag-file" in report.codes("warning")
    (bag / "bag-info.txt").write_text(info + "Contact-Name: someone else\n")
    assert "payload-checksum-mismatch" in codes(bag, "error")
    newer = make_bag(tmp_path / "newer", "0.97", info=info, extra_manifest=tag_line)
    assert "payload-manifest-path-outside-data" in codes(newer, "error")


def test_checksum_mismatch_shows_expected_and_found(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", "1.0", info=f"Payload-Oxum: {oxum()}\n")
    (bag / "data" / "a.txt").write_bytes(b"first fil3\n")
    (problem,) = [p for p in validate_bag(bag).errors if p.code == "payload-checksum-mismatch"]
    assert hashlib.md5(b"first file\n").hexdigest() in problem.message
    assert hashlib.md5(b"first fil3\n").hexdigest() in problem.message


def test_file_url_in_a_manifest_is_named_as_a_url(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", "1.0", extra_manifest=f"{'0' * 32}  file:///etc/passwd\n")
    (problem,) = [p for p in validate_bag(bag).errors if p.code == "path-unsafe"]
    assert "URL" in problem.message and "empty or '.'" not in problem.message


def test_blank_line_in_fetch_txt_is_reported(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", "1.0", info=f"Payload-Oxum: {oxum()}\n")
    (bag / "fetch.txt").write_text("http://example.org/a.txt 11 data/a.txt\n\n")
    report = validate_bag(bag)
    assert "fetch-blank-line" in report.codes()
    (problem,) = [p for p in report.problems if p.code == "fetch-blank-line"]
    assert "line 2" in problem.message


def test_json_report_echoes_only_an_excerpt_of_a_10_mb_line(tmp_path: Path) -> None:
    huge = "x" * 10_000_000
    bag = make_bag(tmp_path / "bag", "1.0", extra_manifest=f"{huge}  data/a.txt\n{huge}\n")
    (bag / "fetch.txt").write_text(f"{huge} {huge} ../{huge}\n")
    proc = archiver("verify", "--json", str(bag))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert len(proc.stdout) < 20_000, len(proc.stdout)
    assert all(len(p["message"]) < 1000 and len(p["path"]) < 1000 for p in report["problems"])


def test_arc_file_in_a_bag_is_read_not_ignored(tmp_path: Path) -> None:
    from archiver.verify.report import verify_bag
    from tests.warc.helpers import arc_bytes

    arc = b"".join(arc_bytes())
    bag = make_bag(tmp_path / "bag", "1.0", files={"data/old.arc": arc})
    report = verify_bag(bag)
    assert report.valid and report.warc_files == 1 and report.warc_records == 2
    assert "arc-file" in {p.code for p in report.problems}
    cut = make_bag(tmp_path / "cut", "1.0", files={"data/old.arc": arc[:-150]})
    assert not verify_bag(cut).valid


def test_nul_in_the_declared_encoding_is_a_verdict(tmp_path: Path) -> None:
    """Found by the property test: codecs.lookup raised ValueError on 'UTF-8\\0'."""
    bag = make_bag(tmp_path / "bag", "1.0")
    (bag / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\0\n")
    assert "bagit-txt-encoding-unknown" in codes(bag, "error")
