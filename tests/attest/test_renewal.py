"""Timestamp expiry and renewal over a real bag: a local TSA whose signing certificate expires in
30 days, a second TSA that renews, and `archiver verify` run with a clock past the expiry."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import archiver
from tests.servers import TestServer
from tests.tsa import LocalTsa, closed_port_url, openssl_env, start_tsa

LATER = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVER_TSA", "ARCHIVER_CATALOG")}
    return {**env, "ARCHIVER_ALLOW_PRIVATE": "1", **extra}


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalTsa, LocalTsa]]:
    base = tmp_path_factory.mktemp("tsas")
    old = start_tsa(base / "old", "rsa", "old", tsa_days=30)  # expires within the horizon
    fresh = start_tsa(base / "fresh", "ec", "fresh")  # 825 days
    yield old, fresh
    old.stop()
    fresh.stop()


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory, tsas: tuple[LocalTsa, LocalTsa]) -> Path:
    """One real bag from `archiver run`, timestamped by the soon-expiring TSA."""
    work = tmp_path_factory.mktemp("renewal")
    with TestServer() as server:
        server.site.add_page("/p.html", b"<html><body><main><p>Statement.</p></main></body></html>")
        doc = work / "sources.md"
        doc.write_text(f"[p]({server.url('/p.html')})\n", encoding="utf-8")
        proc = archiver(
            "run", str(doc), "--out", str(work / "runs"), "--delay", "0", "--name", "bag",
            "--progress", "none", env=_env(),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    old = tsas[0]
    proc = archiver("timestamp", str(work / "runs" / "bag"), "--tsa", tsa_arg(old), env=_env())
    assert proc.returncode == 0, proc.stderr
    return work / "runs"


@pytest.fixture
def runs(stamped: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "runs"
    shutil.copytree(stamped, copy)
    return copy


def tsa_arg(tsa: LocalTsa) -> str:
    return f"{tsa.name}={tsa.url},{tsa.root}"


def roots(*tsas: LocalTsa) -> list[str]:
    return [arg for t in tsas for arg in ("--tsa-root", str(t.root))]


def audit(runs: Path, *args: str, **env: str) -> dict[str, Any]:
    proc = archiver("audit", str(runs), "--json", *args, env=_env(**env))
    assert proc.returncode in (0, 1, 3), proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def verify(bag: Path, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    proc = archiver("verify", str(bag), "--json", *args, env=_env(**env))
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def codes(report: dict[str, Any]) -> set[str]:
    return {p["code"] for p in report["problems"]}


def test_expiring_tokens_are_listed_within_the_horizon(
    runs: Path, tsas: tuple[LocalTsa, ...]
) -> None:
    assert audit(runs, *roots(tsas[0]), "--expiring-within", "10")["results"][0]["expiring"] == []
    listed = audit(runs, *roots(tsas[0]))["results"][0]["expiring"]  # default: 365 days
    assert sorted(e["file"].split(".")[0] for e in listed) == [
        "provenance-anchors/tagmanifest-sha256",
        "provenance-anchors/tagmanifest-sha512",
    ]
    assert all(e["tsa"] == "old" and not e["expired"] for e in listed)
    proc = archiver("audit", str(runs), *roots(tsas[0]), env=_env())
    assert proc.returncode == 0  # expiring is a warning to act on, not a broken bag
    assert "EXPIRING bag: provenance-anchors/tagmanifest-sha256.txt.old." in proc.stdout


def test_without_renewal_an_expired_certificate_no_longer_proves_the_time(
    runs: Path, tsas: tuple[LocalTsa, ...]
) -> None:
    code, now = verify(runs / "bag", *roots(*tsas))
    assert code == 0 and "timestamp-absent" not in codes(now)
    code, later = verify(runs / "bag", *roots(*tsas), ARCHIVER_NOW=LATER)
    assert code == 0  # the bag's bytes are intact; only the time is no longer proven
    assert {"timestamp-cert-expired", "timestamp-absent"} <= codes(later)
    result = audit(runs, *roots(*tsas), ARCHIVER_NOW=LATER)["results"][0]
    assert result["timestamps_failing"] == ["timestamp-cert-expired"]
    assert all(e["expired"] for e in result["expiring"]) and len(result["expiring"]) == 2


def test_audit_renews_and_the_renewed_bag_verifies_after_the_old_expiry(
    runs: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    old, fresh = tsas
    result = audit(runs, *roots(old, fresh), "--renew", "--tsa", tsa_arg(fresh))["results"][0]
    statement = result["renewal"]["statement"]
    assert result["renewal"]["ok"] and statement.startswith("provenance-anchors/renewal-")
    assert audit(runs, *roots(old, fresh))["results"][0]["expiring"] == []  # fresh lasts longer

    code, report = verify(runs / "bag", *roots(old, fresh), ARCHIVER_NOW=LATER)
    assert code == 0
    assert not codes(report) & {
        "timestamp-cert-expired", "timestamp-absent", "anchors-unexpected-file"
    }  # fmt: skip
    checks = report["provenance"]["timestamps"]
    old_checks = [c for c in checks if c["tsa"] == "old"]
    assert len(old_checks) == 2 and all(c["ok"] for c in old_checks)
    assert all("renewed before then" in c["verified_with"] for c in old_checks)
    assert [c["target"] for c in checks if c["tsa"] == "fresh"] == [statement]

    events = [json.loads(x) for x in (runs / "custody-log.jsonl").read_text().splitlines()]
    renewal = [e for e in events if e["event"] == "timestamped" and e["details"].get("renewal")]
    assert renewal and renewal[-1]["details"]["renewal"] == statement
    audited = [e for e in events if e["event"] == "audited"]
    assert audited[-2]["details"]["renewal"] == statement


def test_timestamp_renew_statement_can_be_checked_by_hand(
    runs: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag, fresh = runs / "bag", tsas[1]
    proc = archiver("timestamp", str(bag), "--renew", "--tsa", tsa_arg(fresh), env=_env())
    assert proc.returncode == 0, proc.stderr
    rel = proc.stdout.splitlines()[0].removeprefix("renewal: ")
    statement = json.loads((bag / rel).read_text("utf-8"))
    listed = {c["file"]: c for c in statement["covers"]}
    assert {"tagmanifest-sha256.txt", "tagmanifest-sha512.txt"} <= listed.keys()
    assert sum(f.endswith(".tsr") for f in listed) == 2
    for name, item in listed.items():
        data = (bag / name).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["sha512"] == hashlib.sha512(data).hexdigest()
    token = next((bag / "provenance-anchors").glob(f"{Path(rel).name}.fresh.*.tsr"))
    by_hand = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(bag / rel), "-in", str(token),
         "-CAfile", str(fresh.root)],
        capture_output=True, text=True, env=openssl_env(), check=False,
    )  # fmt: skip
    assert "Verification: OK" in by_hand.stdout, by_hand.stdout + by_hand.stderr
    if shutil.which("jq"):  # the digest check of docs/verify-by-hand.md, as written there
        script = (
            'jq -r \'.covers[] | "\\(.sha256)  \\(.file)"\' "$1" | sha256sum -c - && '
            'jq -r \'.covers[] | "\\(.sha512)  \\(.file)"\' "$1" | sha512sum -c -'
        )
        digests = subprocess.run(
            ["sh", "-c", script, "sh", rel], cwd=bag, capture_output=True, text=True, check=False
        )
        assert digests.returncode == 0, digests.stdout + digests.stderr
        assert digests.stdout.count(": OK") == 2 * len(listed)


def test_an_altered_renewed_token_breaks_the_chain(
    runs: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag, (old, fresh) = runs / "bag", tsas
    assert archiver("timestamp", str(bag), "--renew", "--tsa", tsa_arg(fresh)).returncode == 0
    token = next((bag / "provenance-anchors").glob("tagmanifest-sha256.txt.old.*.tsr"))
    token.write_bytes(token.read_bytes() + b"\0")  # still decodes; no longer what was renewed
    code, report = verify(bag, *roots(old, fresh))
    assert code == 1 and "renewal-covered-changed" in codes(report)


def test_a_renewal_no_tsa_answers_leaves_the_bag_as_it_was(
    runs: Path, tsas: tuple[LocalTsa, ...]
) -> None:
    bag = runs / "bag"
    proc = archiver("timestamp", str(bag), "--renew", "--tsa", f"down={closed_port_url()},"
                    f"{tsas[1].root}", env=_env())  # fmt: skip
    assert proc.returncode == 3
    assert not list((bag / "provenance-anchors").glob("renewal-*"))
    code, report = verify(bag, *roots(*tsas))
    assert code == 0 and "anchors-unexpected-file" not in codes(report)


def test_a_hostile_statement_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement naming one big file many times hashes it once, by streaming; one listing more
    files than any renewal does is unreadable, not hashed."""
    from archiver.attest import renewal

    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "provenance-anchors").mkdir()
    (bag / "data" / "big.bin").write_bytes(b"\0" * (3 << 20))
    hashed: list[Path] = []
    real = renewal.hash_file
    monkeypatch.setattr(renewal, "hash_file", lambda p, a: hashed.append(Path(p)) or real(p, a))
    cover = {"file": "data/big.bin", "sha256": "0" * 64, "sha512": "0" * 128}

    def statement(name: str, covers: list[dict[str, str]]) -> None:
        body = {"format": renewal.RENEWAL_FORMAT, "covers": covers}
        (bag / "provenance-anchors" / name).write_text(json.dumps(body), "utf-8")

    statement("renewal-20261124T000000Z.json", [cover] * 500)
    statement("renewal-20261124T000001Z.json", [cover] * (renewal.MAX_COVERED + 1))
    problems = renewal.renewal_problems(bag)
    assert hashed == [bag / "data" / "big.bin"]  # once, for 500 listings
    codes = sorted({(p.code, p.path) for p in problems})
    assert codes == [
        ("renewal-covered-changed", "provenance-anchors/renewal-20261124T000000Z.json"),
        ("renewal-unreadable", "provenance-anchors/renewal-20261124T000001Z.json"),
    ]
