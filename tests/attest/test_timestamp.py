"""RFC 3161 timestamps from two real local TSAs (separate RSA and EC roots) over real bags."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.attest.timestamp import timestamp_bag, timestamp_command
from archiver.attest.tokencheck import describe_check, verify_bag_timestamps
from archiver.attest.tsa import (
    TsaConfig,
    fingerprint,
    parse_tsa_option,
    tsas_from_environment,
    tsas_from_options,
)
from archiver.bag.validate import validate_bag
from archiver.base.errors import EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.verify.provenance import verify_provenance
from tests.tsa import LocalTsa, build_bag, closed_port_url, start_tsa


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalTsa, LocalTsa]]:
    base = tmp_path_factory.mktemp("tsas")
    alpha = start_tsa(base / "alpha", "rsa", "alpha")
    beta = start_tsa(base / "beta", "ec", "beta")
    yield alpha, beta
    alpha.stop()
    beta.stop()


@pytest.fixture(autouse=True)
def no_configured_tsas(monkeypatch: pytest.MonkeyPatch) -> None:
    """ARCHIVER_TSA roots are trusted by verify: keep the caller's environment out of it."""
    monkeypatch.delenv("ARCHIVER_TSA", raising=False)


def configs(tsas: tuple[LocalTsa, LocalTsa]) -> list[TsaConfig]:
    return [t.config for t in tsas]


def roots(tsas: tuple[LocalTsa, ...]) -> list[Path]:
    """The roots a verifier obtained from the TSAs themselves (``--tsa-root``)."""
    return [t.root for t in tsas]


def codes(checks: list) -> set[str]:  # type: ignore[type-arg]
    return {c.problem.code for c in checks if c.problem is not None}


def test_every_tsa_stamps_both_tag_manifests(tmp_path: Path, tsas: tuple[LocalTsa, ...]) -> None:
    bag = build_bag(tmp_path)
    results = timestamp_bag(bag, configs(tsas))
    assert [(r.name, r.ok) for r in results] == [("alpha", True), ("beta", True)]
    anchors = bag / "provenance-anchors"
    tokens = sorted(p.name for p in anchors.glob("*.tsr"))
    assert len(tokens) == 4
    assert {t.split(".")[0] for t in tokens} == {"tagmanifest-sha256", "tagmanifest-sha512"}
    assert {t.split(".")[2] for t in tokens} == {"alpha", "beta"}
    for tsa in ("alpha", "beta"):
        assert (anchors / "tsa-chains" / f"{tsa}.chain.pem").read_bytes().startswith(b"-----BEGIN")
        assert (anchors / "tsa-chains" / f"{tsa}.roots.pem").read_bytes().startswith(b"-----BEGIN")
    index = json.loads((anchors / "anchors.json").read_text())
    assert sorted(a["file"].split("/")[-1] for a in index["anchors"]) == tokens

    checks = verify_bag_timestamps(bag, extra_roots=roots(tsas))
    assert len(checks) == 4 and all(c.ok for c in checks), [c.problem for c in checks]
    assert {c.target for c in checks} == {"tagmanifest-sha256.txt", "tagmanifest-sha512.txt"}
    assert all(c.verified_with.startswith("--tsa-root ") for c in checks)
    # Anchors are outside the manifests: the bag is still valid for both validators.
    assert validate_bag(bag).errors == []
    assert subprocess.run(["bagit.py", "--validate", str(bag)], capture_output=True).returncode == 0


def test_configured_root_is_preferred_and_roots_are_not_interchangeable(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    alpha, beta = tsas
    bag = build_bag(tmp_path)
    timestamp_bag(bag, configs(tsas))
    checks = verify_bag_timestamps(bag, extra_roots=[alpha.root])
    by_tsa = {c.tsa: c for c in checks}
    assert by_tsa["alpha"].ok and by_tsa["alpha"].verified_with.startswith(
        f"--tsa-root {alpha.root}"
    )
    assert not by_tsa["beta"].ok
    assert by_tsa["beta"].verified_with.startswith("the root stored in the bag")

    # Swap in the other TSA's root: alpha's tokens must no longer verify.
    stored = bag / "provenance-anchors" / "tsa-chains" / "alpha.roots.pem"
    stored.write_bytes(beta.root.read_bytes())
    checks = verify_bag_timestamps(bag, extra_roots=[beta.root])
    bad = [c for c in checks if not c.ok]
    assert {c.tsa for c in bad} == {"alpha"} and len(bad) == 2
    assert codes(bad) == {"timestamp-untrusted-chain"}


def test_tsa_that_is_down_is_recorded_and_the_bag_survives(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag = build_bag(tmp_path)
    down = TsaConfig("down", closed_port_url(), [tsas[0].root])
    log = tmp_path / "custody-log.jsonl"
    results = timestamp_bag(bag, [down, tsas[1].config], timeout=5, custody_log=log)
    assert [(r.name, r.ok) for r in results] == [("down", False), ("beta", True)]
    assert results[0].error and "Connection" in results[0].error and not results[0].files
    assert "[Errno" not in results[0].error or "Connection refused" in results[0].error
    index = json.loads((bag / "provenance-anchors" / "anchors.json").read_text())
    assert [f["tsa"] for f in index["failures"]] == ["down"]
    event = json.loads(log.read_text().splitlines()[-1])
    assert event["event"] == "timestamped"
    assert [t["ok"] for t in event["details"]["tsas"]] == [False, True]
    assert validate_bag(bag).errors == []
    assert all(c.ok for c in verify_bag_timestamps(bag, extra_roots=roots(tsas)))


def test_all_tsas_down_is_one_line_error_and_bag_unchanged(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag = build_bag(tmp_path)
    down = TsaConfig("down", closed_port_url(), [tsas[0].root])
    with pytest.raises(ArchiverError) as err:
        timestamp_command(bag, [down], timeout=5)
    assert err.value.exit_code == EXIT_RUN_FAILED
    assert "no TSA gave a token" in str(err.value) and "\n" not in str(err.value)
    assert list((bag / "provenance-anchors").glob("*.tsr")) == []
    assert validate_bag(bag).errors == []
    # The message says what was written: the failure record, not "the bag is unchanged".
    index = json.loads((bag / "provenance-anchors" / "anchors.json").read_text())
    assert [f["tsa"] for f in index["failures"]] == ["down"]
    assert "recorded in provenance-anchors/anchors.json and the custody log" in str(err.value)
    log = (tmp_path / "custody-log.jsonl").read_text().splitlines()
    assert [json.loads(x)["event"] for x in log] == ["timestamped"]


def test_failed_timestamp_message_is_whole_and_leaves_no_empty_folder(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    """The reason is kept whole (one line, bounded, an explicit '…' if cut), never mid-word."""
    bag = build_bag(tmp_path)
    down = TsaConfig("down", closed_port_url(), [tsas[0].root])
    log = tmp_path / "custody-log.jsonl"
    (result,) = timestamp_bag(bag, [down], timeout=5, custody_log=log)
    assert result.error and result.error.endswith("Connection refused"), result.error
    index = json.loads((bag / "provenance-anchors" / "anchors.json").read_text())
    event = json.loads(log.read_text().splitlines()[-1])
    assert index["failures"][0]["error"] == result.error
    assert event["details"]["tsas"][0]["error"] == result.error
    assert not (bag / "provenance-anchors" / "tsa-chains").exists()


def test_one_line_marks_what_it_cuts() -> None:
    from archiver.attest.tsa import MAX_MESSAGE, one_line

    assert one_line("a\n  b\tc") == "a b c"
    long = one_line("x" * 1000)
    assert len(long) == MAX_MESSAGE and long.endswith("…")


def test_later_token_is_added_never_overwriting(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag = build_bag(tmp_path)
    timestamp_bag(bag, configs(tsas))
    first = {p.name: p.read_bytes() for p in (bag / "provenance-anchors").glob("*.tsr")}
    assert timestamp_command(bag, configs(tsas)) == 0  # `archiver timestamp BAG` later
    after = {p.name: p.read_bytes() for p in (bag / "provenance-anchors").glob("*.tsr")}
    assert len(after) == 2 * len(first)
    assert all(after[name] == data for name, data in first.items())
    checks = verify_bag_timestamps(bag, extra_roots=roots(tsas))
    assert len(checks) == 8 and all(c.ok for c in checks)
    proc = subprocess.run(["bagit.py", "--validate", str(bag)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # the custody log beside the bag got one event per timestamping, copied into the bag
    log = tmp_path / "custody-log.jsonl"
    assert [json.loads(x)["event"] for x in log.read_text().splitlines()] == ["timestamped"]
    assert (bag / "provenance-anchors" / "custody.jsonl").read_bytes() == log.read_bytes()


def test_edited_tag_manifest_is_named(tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]) -> None:
    bag = build_bag(tmp_path)
    timestamp_bag(bag, configs(tsas))
    tm = bag / "tagmanifest-sha512.txt"
    tm.write_bytes(tm.read_bytes().replace(b"bagit.txt", b"bagit.txt ", 1))
    bad = [c for c in verify_bag_timestamps(bag, extra_roots=roots(tsas)) if not c.ok]
    assert {c.target for c in bad} == {"tagmanifest-sha512.txt"} and len(bad) == 2
    assert codes(bad) == {"timestamp-imprint-mismatch"}
    assert all("tagmanifest-sha512.txt has changed" in c.problem.message for c in bad)


def test_flipped_payload_byte_is_caught_through_the_manifests(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag = build_bag(tmp_path)
    timestamp_bag(bag, configs(tsas))
    payload = bag / "data" / "warcs" / "a.txt"
    payload.write_bytes(b"Payload\n")
    # The tokens still match the tag manifests, which no longer match the payload:
    assert all(c.ok for c in verify_bag_timestamps(bag, extra_roots=roots(tsas)))
    assert "data/warcs/a.txt" in {p.path for p in validate_bag(bag).errors}


def test_tampered_or_deleted_token_is_reported(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag = build_bag(tmp_path)
    timestamp_bag(bag, configs(tsas))
    anchors = bag / "provenance-anchors"
    signed = next(anchors.glob("tagmanifest-sha256.txt.alpha.*.tsr"))
    data = bytearray(signed.read_bytes())
    data[-1] ^= 0x01  # last byte of the RSA signature value
    signed.write_bytes(bytes(data))
    truncated = next(anchors.glob("tagmanifest-sha512.txt.alpha.*.tsr"))
    truncated.write_bytes(truncated.read_bytes()[:100])
    deleted = next(anchors.glob("tagmanifest-sha256.txt.beta.*.tsr"))
    deleted.unlink()
    checks = verify_bag_timestamps(bag, extra_roots=roots(tsas))
    by_file = {c.file.split("/")[-1]: c for c in checks}
    assert by_file[signed.name].problem.code == "timestamp-untrusted-chain"
    assert by_file[truncated.name].problem.code == "timestamp-unreadable"
    assert by_file[deleted.name].problem.code == "timestamp-missing"
    assert sum(c.ok for c in by_file.values()) == 1


def test_token_before_capture_start_is_impossible(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag = build_bag(tmp_path, capture_start="2099-01-01T00:00:00.000000Z")
    timestamp_bag(bag, configs(tsas))
    checks = verify_bag_timestamps(bag)
    assert codes(checks) == {"timestamp-before-capture"} and not any(c.ok for c in checks)
    assert all(c.verified_with for c in checks)  # the token itself is genuine


def test_refuses_unsealed_or_altered_bags(tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]) -> None:
    with pytest.raises(ArchiverError, match="no such bag"):
        timestamp_bag(tmp_path / "nope", configs(tsas))
    bag = build_bag(tmp_path)
    with pytest.raises(ArchiverError, match="no TSA configured"):
        timestamp_bag(bag, [])
    (bag / "bag-info.txt").write_text((bag / "bag-info.txt").read_text() + "Extra: x\n")
    with pytest.raises(ArchiverError, match="does not match tagmanifest"):
        timestamp_bag(bag, configs(tsas))
    assert not list(bag.glob("provenance-anchors/*.tsr"))


def test_tsa_option_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root.pem"
    root.write_text("x")
    cfg = parse_tsa_option(f"dfn=http://tsa.example/ts,{root}")
    assert cfg == TsaConfig("dfn", "http://tsa.example/ts", [root])
    env = {"ARCHIVER_TSA": f"a=http://a.example,{root}; b=https://b.example,{root},{root}"}
    assert [(c.name, len(c.roots)) for c in tsas_from_environment(env)] == [("a", 1), ("b", 2)]
    monkeypatch.setenv("ARCHIVER_TSA", f"e=http://e.example,{root}")
    assert [c.name for c in tsas_from_options(None)] == ["e"]
    assert [c.name for c in tsas_from_options([f"o=http://o.example,{root}"])] == ["o"]
    with pytest.raises(ArchiverError, match="given twice"):
        tsas_from_options([f"o=http://o.example,{root}"] * 2)
    for bad, message in [
        ("http://no-name", "expected NAME=URL,ROOT.pem"),
        ("x=ftp://a,{root}", "not http"),
        ("x=http://a", "give its root"),
        ("x=http://a,/nonexistent.pem", "not found"),
        ("a.b=http://a,{root}", "TSA name"),
    ]:
        with pytest.raises(ArchiverError, match=message) as err:
            parse_tsa_option(bad.format(root=root))
        assert err.value.exit_code == EXIT_USAGE


def test_bag_copy_with_anchors_still_verifies(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    """Anchors travel with the bag: a copy elsewhere verifies offline against its own files."""
    bag = build_bag(tmp_path / "a")
    timestamp_bag(bag, configs(tsas))
    copy = Path(shutil.copytree(bag, tmp_path / "b" / bag.name))
    checks = verify_bag_timestamps(copy, extra_roots=roots(tsas))
    assert len(checks) == 4 and all(c.ok for c in checks)


def test_token_not_matching_configured_root_is_not_kept(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    alpha, beta = tsas
    bag = build_bag(tmp_path)
    wrong = TsaConfig("alpha", alpha.url, [beta.root])
    [result] = timestamp_bag(bag, [wrong])
    assert not result.ok and "does not verify against the configured roots" in result.error
    assert list((bag / "provenance-anchors").glob("*.tsr")) == []
    checks = verify_bag_timestamps(bag)
    assert checks == []


def test_describe_check_lines(tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]) -> None:
    bag = build_bag(tmp_path)
    timestamp_bag(bag, [tsas[0].config])
    (bag / "tagmanifest-sha256.txt").write_bytes(b"changed\n")
    lines = sorted(describe_check(c) for c in verify_bag_timestamps(bag, extra_roots=roots(tsas)))
    assert lines[0].startswith("timestamp FAILED, provenance-anchors/tagmanifest-sha256.txt.alpha.")
    assert lines[0].endswith("[timestamp-imprint-mismatch]")
    assert lines[1].startswith("timestamp OK, provenance-anchors/tagmanifest-sha512.txt.alpha.")
    # Without an independent root, the line says which stored root would verify the token.
    lines = sorted(describe_check(c) for c in verify_bag_timestamps(bag))
    assert lines[1].startswith("timestamp ROOT UNVERIFIED, provenance-anchors/tagmanifest-sha512")
    assert "the root stored in the bag, provenance-anchors/tsa-chains/alpha.roots.pem" in lines[1]
    assert "pass --tsa-root" in lines[1] and lines[1].endswith("[timestamp-root-unverified]")


def test_tsa_behind_an_intermediate_ca(tmp_path: Path) -> None:
    """The token embeds only the TSA certificate; the intermediate comes with the root bundle."""
    gamma = start_tsa(tmp_path / "gamma", "ec", "gamma", intermediate=True)
    try:
        bag = build_bag(tmp_path / "out")
        [result] = timestamp_bag(bag, [gamma.config])
        assert result.ok, result.error
    finally:
        gamma.stop()
    checks = verify_bag_timestamps(bag)
    assert len(checks) == 2 and codes(checks) == {"timestamp-root-unverified"}
    assert all("CN=gamma Test Root CA" in c.verified_with for c in checks)
    # A verifier holding only the root (not the intermediate) still gets there:
    checks = verify_bag_timestamps(bag, extra_roots=[gamma.root])
    assert all(c.ok and c.verified_with.startswith("--tsa-root") for c in checks)
    # and the intermediate alone is never taken as a trust anchor:
    (bag / "provenance-anchors" / "tsa-chains" / "gamma.roots.pem").write_bytes(
        (tmp_path / "gamma" / "int.crt").read_bytes()
    )
    assert {c.problem.code for c in verify_bag_timestamps(bag)} == {"timestamp-untrusted-chain"}
    proc = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(bag / "tagmanifest-sha256.txt"),
         "-in", str(next((bag / "provenance-anchors").glob("tagmanifest-sha256.txt.*.tsr"))),
         "-CAfile", str(tmp_path / "gamma" / "roots.pem")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stderr


def test_a_home_made_tsa_root_stored_in_the_bag_is_not_trusted(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    """A forger rewrites a bag and stamps it with their own TSA, storing its root in the bag."""
    mallory = start_tsa(tmp_path / "mallory", "ec", "alpha")  # even borrowing a real TSA's name
    try:
        bag = build_bag(tmp_path / "out")
        [result] = timestamp_bag(bag, [mallory.config])
        assert result.ok
    finally:
        mallory.stop()
    checks = verify_bag_timestamps(bag)
    assert len(checks) == 2 and not any(c.ok for c in checks)
    assert codes(checks) == {"timestamp-root-unverified"}
    for check in checks:
        assert check.problem is not None and check.problem.severity == "warning"
        assert "provenance-anchors/tsa-chains/alpha.roots.pem" in check.problem.message
        assert fingerprint_of(mallory.root) in check.problem.message
        assert "pass --tsa-root with a root obtained independently" in check.problem.message
    report = verify_provenance(bag)
    assert not [p for p in report.problems if p.severity == "error"]
    assert "timestamp-absent" in {p.code for p in report.problems}  # not independently stamped
    # The genuine TSAs' roots, obtained independently, do not vouch for it:
    checks = verify_bag_timestamps(bag, extra_roots=roots(tsas))
    assert not any(c.ok for c in checks) and codes(checks) == {"timestamp-root-unverified"}


def test_roots_of_tsas_configured_on_this_machine_are_trusted(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa], monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, _ = tsas
    bag = build_bag(tmp_path)
    timestamp_bag(bag, configs(tsas))
    monkeypatch.setenv("ARCHIVER_TSA", f"alpha={alpha.url},{alpha.trust_file}")
    by_tsa = {c.tsa: c for c in verify_bag_timestamps(bag)}
    assert by_tsa["alpha"].ok and "configured in ARCHIVER_TSA" in by_tsa["alpha"].verified_with
    assert by_tsa["beta"].problem is not None
    assert by_tsa["beta"].problem.code == "timestamp-root-unverified"


def test_imprint_is_checked_even_when_the_root_is_unverified(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    bag = build_bag(tmp_path)
    timestamp_bag(bag, [tsas[0].config])
    (bag / "tagmanifest-sha256.txt").write_bytes(b"changed\n")
    by_target = {c.target: c.problem for c in verify_bag_timestamps(bag)}
    assert by_target["tagmanifest-sha256.txt"].code == "timestamp-imprint-mismatch"
    assert by_target["tagmanifest-sha256.txt"].severity == "error"
    assert by_target["tagmanifest-sha512.txt"].code == "timestamp-root-unverified"


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_tag_manifest_naming_a_file_outside_the_bag_is_refused(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa], how: str
) -> None:
    bag = build_bag(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside the bag\n")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    if how == "dotdot":
        rel = "../secret.txt"
    else:
        rel = "extra-tag.txt"
        (bag / rel).symlink_to(secret)
    tm = bag / "tagmanifest-sha256.txt"
    tm.write_bytes(tm.read_bytes() + f"{digest}  {rel}\n".encode())
    requests_before = tsas[0].server.requests
    with pytest.raises(ArchiverError, match="refusing to anchor") as err:
        timestamp_bag(bag, configs(tsas))
    assert "\n" not in str(err.value) and err.value.exit_code == EXIT_USAGE
    assert tsas[0].server.requests == requests_before
    assert not list(bag.glob("provenance-anchors/*.tsr"))


def fingerprint_of(pem: Path) -> str:
    from cryptography import x509

    return fingerprint(x509.load_pem_x509_certificate(pem.read_bytes()))


def test_deleted_tokens_are_caught_through_the_custody_copy(
    tmp_path: Path, tsas: tuple[LocalTsa, LocalTsa]
) -> None:
    """Deleting tokens and their index entries cannot pass for a bag never timestamped."""
    bag = build_bag(tmp_path)
    log = tmp_path / "custody-log.jsonl"
    timestamp_bag(bag, configs(tsas), custody_log=log)
    anchors = bag / "provenance-anchors"
    gone = sorted(p.relative_to(bag).as_posix() for p in anchors.glob("*.alpha.*.tsr"))
    for rel in gone:
        (bag / rel).unlink()
    index = json.loads((anchors / "anchors.json").read_text())
    index["anchors"] = [a for a in index["anchors"] if a["tsa"] != "alpha"]
    (anchors / "anchors.json").write_text(json.dumps(index))
    log.unlink()  # only the bag's own copy is left to tell
    report = verify_provenance(bag, extra_roots=roots(tsas))
    missing = [(p.path, p.severity) for p in report.problems if p.code == "anchors-missing"]
    assert sorted(missing) == [(rel, "error") for rel in gone]
