"""End to end: `archiver run` against real local HTTP and HTTPS servers, then `archiver verify`.

The run happens once per module in a subprocess (the real CLI); the servers run in this process
so the test can compare what the bag holds with exactly what was served.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import bagit
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.helpers import REPO, archiver
from tests.servers import Site, TestServer, TLSFiles, closed_port

SITE = Site()


class Run:
    def __init__(self, bag: Path, proc: subprocess.CompletedProcess[str], urls: dict[str, str]):
        self.bag = bag
        self.proc = proc
        self.urls = urls
        lines = (bag / "data" / "capture-log.jsonl").read_text("utf-8").splitlines()
        self.entries = [json.loads(line) for line in lines]
        self.by_url = {e["url"]: e for e in self.entries}

    def entry(self, key: str) -> dict[str, Any]:
        return self.by_url[self.urls[key]]


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
    http_server: TestServer,
    https_server: TestServer,
    tls_files: TLSFiles,
) -> Run:
    work = tmp_path_factory.mktemp("e2e")
    urls = {
        "article": http_server.url("/articles/one.html"),
        "https_article": https_server.url("/articles/three.html"),
        "redirect": http_server.url("/redirect/301"),
        "404": http_server.url("/status/404"),
        "410": http_server.url("/status/410"),
        "500": http_server.url("/status/500"),
        "chunked": http_server.url("/chunked.html"),
        "gzip": http_server.url("/gzip.html"),
        "pdf": http_server.url("/doc.pdf"),
        "cp1251": http_server.url("/cp1251.html"),
        "robots": http_server.url("/private/secret.html"),
        "refused": f"http://127.0.0.1:{closed_port()}/gone",
        "dns": "http://no-such-host.invalid/page",
    }
    doc = work / "sources.md"
    lines = ["# Sources cited in the report", ""]
    for i, (key, url) in enumerate(urls.items(), start=1):
        cited = url + "#section-2" if key == "article" else url
        lines.append(f"{i}. {key}: [{cited}]({cited}).")
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = work / "out"
    proc = archiver(
        "run",
        str(doc),
        "--out",
        str(out),
        "--delay",
        "0",
        "--ca-bundle",
        str(tls_files.ca_pem),
        "--progress",
        "plain",
        "--operator",
        "Test Operator",
        "--organisation",
        "Test NGO",
        "--contact-email",
        "archive@example.org",
        "--read-timeout",
        "5",
        "--name",
        "e2e-bag",
    )
    assert proc.returncode == 0, proc.stderr
    bag = Path(proc.stdout.strip().splitlines()[-1])
    assert bag == out / "e2e-bag"
    return Run(bag, proc, urls)


def test_bag_is_sealed_and_nothing_left_behind(run: Run) -> None:
    assert (run.bag / "bagit.txt").read_text() == (
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    assert not list(run.bag.parent.glob(".*partial*"))
    assert not list(run.bag.rglob("*.open"))
    assert (run.bag / "data" / "sources" / "sources.md").is_file()
    info = (run.bag / "bag-info.txt").read_text("utf-8")
    for label in (
        "Source-Organization: Test NGO",
        "Contact-Email: archive@example.org",
        "External-Identifier: urn:uuid:",
        "Capture-Start: ",
        "Capture-End: ",
        "Payload-Oxum: ",
        "Bag-Software-Agent: archiver/",
    ):
        assert label in info


def test_every_url_is_in_the_capture_log(run: Run) -> None:
    assert set(run.urls.values()) <= set(run.by_url)
    article = run.entry("article")
    assert article["citations"][0]["cited_as"].endswith("#section-2")
    assert "#" not in article["url"]
    assert article["citations"][0]["locator"] == "sources/sources.md:3"
    assert article["citations"][0]["document"] == "sources/sources.md"


def test_verify_and_bagit_python_agree_the_bag_is_valid(run: Run) -> None:
    proc = archiver("verify", str(run.bag))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VALID" in proc.stdout
    report = json.loads(archiver("verify", "--json", str(run.bag)).stdout)
    assert report["valid"] is True and report["errors"] == 0
    assert report["warc_records"] > 20 and report["capture_log_checked"] is True
    bagit.Bag(str(run.bag)).validate()  # raises if invalid
    cmd = shutil.which("bagit.py")
    if cmd:
        assert (
            subprocess.run([cmd, "--validate", str(run.bag)], capture_output=True).returncode == 0
        )


def test_captured_payloads_are_exactly_what_was_served(run: Run) -> None:
    for key, path in (
        ("article", "/articles/one.html"),
        ("gzip", "/gzip.html"),
        ("pdf", "/doc.pdf"),
        ("cp1251", "/cp1251.html"),
        ("chunked", "/chunked.html"),
    ):
        entry = run.entry(key)
        assert entry["outcome"] == "captured", entry
        assert entry["status"] == 200
        assert entry["ip"] == "127.0.0.1"
        assert entry["payload_sha256"] == hashlib.sha256(SITE.served(path).body).hexdigest(), key


def test_warc_records_pair_requests_and_responses(run: Run) -> None:
    warcs = sorted((run.bag / "data" / "warcs").glob("*.warc.gz"))
    assert warcs
    requests: dict[str, str] = {}
    responses: dict[str, str] = {}
    for warc in warcs:
        with open(warc, "rb") as f:
            for rec in ArchiveIterator(f):
                h = rec.rec_headers
                assert h.get_header("WARC-Block-Digest", "").startswith("sha256:")
                if rec.rec_type == "request":
                    requests[h.get_header("WARC-Record-ID")] = h.get_header("WARC-Concurrent-To")
                elif rec.rec_type == "response":
                    responses[h.get_header("WARC-Record-ID")] = h.get_header("WARC-Target-URI")
                    assert h.get_header("WARC-Payload-Digest", "").startswith("sha256:")
                    assert h.get_header("WARC-IP-Address") == "127.0.0.1"
    assert responses and set(requests.values()) >= set(responses)


def test_redirect_chain_is_recorded_hop_by_hop(run: Run) -> None:
    entry = run.entry("redirect")
    assert [r["status"] for r in entry["redirects"]] == [301, 302]
    assert entry["final_url"].endswith("/articles/one.html")
    responses = [r for r in entry["records"] if r["type"] == "response"]
    assert len(responses) == 3


def test_http_errors_are_captured_as_evidence(run: Run) -> None:
    for key, status in (("404", 404), ("410", 410), ("500", 500)):
        entry = run.entry(key)
        assert entry["outcome"] == "http-error"
        assert entry["status"] == status
        assert any(r["type"] == "response" for r in entry["records"])


def test_network_failures_are_recorded(run: Run) -> None:
    refused = run.entry("refused")
    assert refused["outcome"] == "failed"
    assert refused["error"]["class"] == "connection-refused"
    dns = run.entry("dns")
    assert dns["outcome"] == "failed" and dns["error"]["class"] == "dns"
    for entry in (refused, dns):
        assert any(r["type"] == "metadata" for r in entry["records"]), entry


def test_robots_disallow_is_honoured_and_recorded(run: Run) -> None:
    entry = run.entry("robots")
    assert entry["outcome"] == "blocked"
    assert entry["robots"]["allowed"] is False


def test_texts_are_extracted_and_tied_to_their_records(run: Run) -> None:
    entry = run.entry("article")
    text = (run.bag / "data" / entry["text"]["path"]).read_text("utf-8")
    assert "security forces detained four journalists" in text
    assert "Donate" not in text and "Privacy" not in text
    sidecar = json.loads((run.bag / "data" / entry["text"]["sidecar"]).read_text("utf-8"))
    response_ids = [r["record_id"] for r in entry["records"] if r["type"] == "response"]
    assert sidecar["source"]["record_id"] == response_ids[-1]
    assert sidecar["source"]["payload_sha256"] == entry["payload_sha256"]
    cp = run.entry("cp1251")
    assert "Журналисты были задержаны" in (run.bag / "data" / cp["text"]["path"]).read_text()
    pdf = run.entry("pdf")
    assert "Annex" in (run.bag / "data" / pdf["text"]["path"]).read_text()
    gz = run.entry("gzip")
    assert (
        "Researchers returned to the facility"
        in (run.bag / "data" / gz["text"]["path"]).read_text()
    )


# --- tampering: verify names each problem and exits 1 -------------------------------------


@pytest.fixture
def tampered(run: Run, tmp_path: Path) -> Path:
    copy = tmp_path / run.bag.name
    shutil.copytree(run.bag, copy)
    return copy


def verify_json(bag: Path) -> tuple[int, dict[str, Any]]:
    proc = archiver("verify", "--json", str(bag))
    return proc.returncode, json.loads(proc.stdout)


def test_flipped_byte_in_warc(tampered: Path) -> None:
    warc = sorted((tampered / "data" / "warcs").glob("*.warc.gz"))[0]
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0x01
    warc.write_bytes(bytes(data))
    code, report = verify_json(tampered)
    assert code == 1
    paths = {p["path"] for p in report["problems"] if p["severity"] == "error"}
    assert f"data/warcs/{warc.name}" in paths


def test_deleted_text(tampered: Path, run: Run) -> None:
    rel = run.entry("article")["text"]["path"]
    (tampered / "data" / rel).unlink()
    code, report = verify_json(tampered)
    assert code == 1
    assert any(p["path"] == f"data/{rel}" for p in report["problems"])


def test_added_file(tampered: Path) -> None:
    (tampered / "data" / "text" / "planted.txt").write_text("not captured\n")
    code, report = verify_json(tampered)
    assert code == 1
    assert any(p["path"] == "data/text/planted.txt" for p in report["problems"])


def test_edited_manifest(tampered: Path) -> None:
    manifest = tampered / "manifest-sha256.txt"
    lines = manifest.read_text().splitlines()
    digest, path = lines[0].split(maxsplit=1)
    lines[0] = f"{'0' * len(digest)}  {path}"
    manifest.write_text("\n".join(lines) + "\n")
    code, report = verify_json(tampered)
    assert code == 1
    assert any(p["path"] in (path, "manifest-sha256.txt") for p in report["problems"])


def test_bag_conforms_to_the_project_profile(run: Run) -> None:
    from archiver.bag.profile import check_profile

    profile = REPO / "manifests" / "archiver-bagit-profile.json"
    assert check_profile(run.bag, profile) == []


def test_provenance_summary_is_in_the_payload_and_filled(run: Run) -> None:
    text = (run.bag / "data" / "provenance-summary.txt").read_text("utf-8")
    html = (run.bag / "data" / "provenance-summary.html").read_text("utf-8")
    assert "Test Operator" in text and "Test NGO" in text
    assert run.urls["article"] in text and run.urls["dns"] in text
    assert "None" not in text
    assert "<html" in html.lower()
    manifest = (run.bag / "manifest-sha256.txt").read_text()
    assert "data/provenance-summary.html" in manifest


def test_url_source_follows_main_content_links_one_hop(
    tmp_path: Path, http_server: TestServer
) -> None:
    start = http_server.url("/articles/one.html")
    proc = archiver(
        "run",
        start,
        "--out",
        str(tmp_path / "out"),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "hop-bag",
    )
    assert proc.returncode == 0, proc.stderr
    bag = tmp_path / "out" / "hop-bag"
    entries = [json.loads(x) for x in (bag / "data" / "capture-log.jsonl").read_text().splitlines()]
    by_url = {e["url"]: e for e in entries}
    followed = {
        http_server.url(p) for p in ("/articles/two.html", "/articles/three.html", "/doc.pdf")
    }
    assert followed <= set(by_url), sorted(by_url)
    for url in followed:
        assert by_url[url]["hop"] == 1 and by_url[url]["via"] == start
    nav = {http_server.url(p) for p in ("/", "/about.html", "/donate", "/privacy.html")}
    assert not nav & set(by_url), "navigation and footer links are not evidence"
    assert by_url[start]["hop"] == 0
    # two.html links back to one.html: captured once, not twice
    assert [e["url"] for e in entries].count(start) == 1
    assert archiver("verify", str(bag)).returncode == 0


# --- a forger who recomputes every manifest: the cross-checks must still catch it -------------


def reseal(bag: Path) -> None:
    """Recompute manifests, tag manifests and Payload-Oxum, as someone rewriting a bag would."""
    import hashlib as h

    data_files = sorted(p for p in (bag / "data").rglob("*") if p.is_file())
    for alg in ("sha256", "sha512"):
        manifest = bag / f"manifest-{alg}.txt"
        if manifest.exists():
            manifest.write_text(
                "".join(
                    f"{h.new(alg, p.read_bytes()).hexdigest()}  {p.relative_to(bag).as_posix()}\n"
                    for p in data_files
                )
            )
    info = bag / "bag-info.txt"
    if info.exists():
        size = sum(p.stat().st_size for p in data_files)
        lines = [
            f"Payload-Oxum: {size}.{len(data_files)}" if x.startswith("Payload-Oxum:") else x
            for x in info.read_text().splitlines()
        ]
        info.write_text("\n".join(lines) + "\n")
    tag_files = [p for p in bag.iterdir() if p.is_file() and not p.name.startswith("tagmanifest-")]
    for alg in ("sha256", "sha512"):
        tm = bag / f"tagmanifest-{alg}.txt"
        if tm.exists():
            tm.write_text(
                "".join(
                    f"{h.new(alg, p.read_bytes()).hexdigest()}  {p.name}\n"
                    for p in sorted(tag_files)
                )
            )


def error_codes(bag: Path) -> set[str]:
    code, report = verify_json(bag)
    assert code == 1, report
    codes = {p["code"] for p in report["problems"] if p["severity"] == "error"}
    # the forgery is clean at the BagIt level: only archiver's own cross-checks can catch it
    assert not {c for c in codes if "checksum" in c or "oxum" in c}, codes
    return codes


def test_forged_status_in_capture_log(tampered: Path, run: Run) -> None:
    log = tampered / "data" / "capture-log.jsonl"
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    for e in entries:
        if e["url"] == run.urls["410"]:
            e["status"], e["outcome"], e["error"] = 200, "captured", None
    log.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    reseal(tampered)
    codes = error_codes(tampered)
    assert "capture-log-status-mismatch" in codes
    assert "capture-log-outcome-mismatch" in codes


def test_forged_duplicate_entry(tampered: Path) -> None:
    log = tampered / "data" / "capture-log.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join([*lines, lines[0]]) + "\n")
    reseal(tampered)
    assert "capture-log-duplicate-url" in error_codes(tampered)


def test_backdated_bag_info_without_tag_manifests(tampered: Path) -> None:
    for tm in tampered.glob("tagmanifest-*.txt"):
        tm.unlink()
    info = tampered / "bag-info.txt"
    info.write_text(
        info.read_text().replace("Capture-Start: 2", "Capture-Start: 2019-01-01T00:00:00Z #")
    )
    assert any(c.startswith("profile-") for c in error_codes(tampered))


def test_deleted_bag_info_and_sha512(tampered: Path) -> None:
    (tampered / "bag-info.txt").unlink()
    (tampered / "manifest-sha512.txt").unlink()
    (tampered / "tagmanifest-sha512.txt").unlink()
    reseal(tampered)
    assert any(c.startswith("profile-") for c in error_codes(tampered))


def test_archiver_clean_reproduces_the_bags_texts_byte_for_byte(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "clean"
    warcs = sorted(str(p) for p in (run.bag / "data" / "warcs").glob("*.warc.gz"))
    proc = archiver("clean", *warcs, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    compared = 0
    for entry in run.entries:
        text = entry.get("text")
        if not text or "path" not in text:
            continue
        for key in ("path", "sidecar"):
            name = Path(text[key]).name
            assert (out / name).read_bytes() == (run.bag / "data" / text[key]).read_bytes(), name
        compared += 1
    assert compared >= 5
