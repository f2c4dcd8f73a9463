"""`archiver export`: a bag the profile accepts, byte-identical each time, original untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import bagit
import pytest

from archiver.bag.writer import BagBuilder
from tests.export.helpers import copy_bag, tree_digest
from tests.helpers import archiver
from tests.tsa import openssl_env, start_tsa

APTRUST = ("--profile", "aptrust", "--set", "Access=Institution")


def export(bag: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> Path:
    proc = archiver("export", str(bag), "--out", str(out), *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def bagit_valid(folder: Path) -> None:
    bag = bagit.Bag(str(folder))
    bag.validate()  # raises BagValidationError naming what is wrong


@pytest.mark.parametrize(
    ("fmt", "profile"),
    [("tar", APTRUST), ("zip", ("--profile", "btr")), ("tgz", ("--profile", "btr"))],
)
def test_two_exports_are_byte_identical_and_open_with_standard_tools(
    sealed_bag: Path, tmp_path: Path, fmt: str, profile: tuple[str, ...]
) -> None:
    before = tree_digest(sealed_bag)
    first = export(sealed_bag, tmp_path / "a", "--format", fmt, *profile)
    second = export(sealed_bag, tmp_path / "b", "--format", fmt, *profile)
    assert first.read_bytes() == second.read_bytes()
    assert tree_digest(sealed_bag) == before  # the sealed original is only read
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    if fmt == "zip":
        listing = subprocess.run(["unzip", "-Z1", str(first)], capture_output=True, text=True)
        subprocess.run(["unzip", "-q", str(first), "-d", str(unpacked)], check=True)
        names = listing.stdout.split()
    else:
        flag = "xzf" if fmt == "tgz" else "xf"
        subprocess.run(["tar", flag, str(first), "-C", str(unpacked)], check=True)
        listing = subprocess.run(["tar", "tvf", str(first)], capture_output=True, text=True)
        names = [line.split()[-1] for line in listing.stdout.splitlines()]
        assert all(" 0/0 " in line for line in listing.stdout.splitlines())  # no owner names
    assert {n.split("/")[0] for n in names} == {sealed_bag.name}  # one top-level folder
    tags_end = max(i for i, n in enumerate(names) if "/data/" not in n and not n.endswith("/data/"))
    assert all("/data" in n for n in names[tags_end + 1 :])  # tag files come first
    bagit_valid(unpacked / sealed_bag.name)
    assert archiver("profile", "check", str(first), profile[1]).returncode == 0


def test_entries_have_fixed_times_and_modes(sealed_bag: Path, tmp_path: Path) -> None:
    tar_path = export(sealed_bag, tmp_path / "t", "--format", "tar", *APTRUST)
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
    assert len({m.mtime for m in members}) == 1
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert {m.mode for m in members if m.isfile()} == {0o644}
    assert [m.name for m in members] == sorted(
        (m.name for m in members), key=lambda n: ("/data" in n, n)
    )
    zip_path = export(sealed_bag, tmp_path / "z", "--format", "zip", "--profile", "btr")
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
    assert len({i.date_time for i in infos}) == 1
    assert {i.external_attr >> 16 for i in infos if not i.is_dir()} == {0o100644}


def test_aptrust_export_has_its_tag_file_fields_and_algorithms(
    sealed_bag: Path, tmp_path: Path
) -> None:
    tar_path = export(sealed_bag, tmp_path, "--format", "tar", *APTRUST)
    assert tar_path.name == f"{sealed_bag.name}.tar"  # untars to a folder named like the tar
    with tarfile.open(tar_path) as tar:
        root = sealed_bag.name
        names = tar.getnames()
        info = tar.extractfile(f"{root}/aptrust-info.txt").read().decode()  # type: ignore[union-attr]
        bag_info = tar.extractfile(f"{root}/bag-info.txt").read().decode()  # type: ignore[union-attr]
    assert "Access: Institution" in info and "Storage-Option: Standard" in info
    assert "Title: " in info
    assert f"{root}/manifest-md5.txt" in names and f"{root}/manifest-sha512.txt" not in names
    assert "aptrust-v2.3.json" in bag_info and "(not given)" not in bag_info


def test_the_originals_manifests_and_anchors_verify_inside_the_export(
    sealed_bag: Path, tmp_path: Path
) -> None:
    """Rebuild the original bag from the export (data/ + archiver-original/): it verifies."""
    folder = export(sealed_bag, tmp_path / "x", "--profile", "btr")
    original = folder / "archiver-original"
    for path in sealed_bag.rglob("*"):
        rel = path.relative_to(sealed_bag)
        if path.is_file() and rel.parts[0] != "data":
            assert (original / rel).read_bytes() == path.read_bytes(), rel
    rebuilt = tmp_path / sealed_bag.name
    shutil.copytree(original, rebuilt)
    shutil.copytree(folder / "data", rebuilt / "data")
    proc = archiver("verify", str(rebuilt))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # By hand, as a receiver would: the original manifest checks the export's own payload.
    for line in (original / "manifest-sha512.txt").read_text().splitlines():
        digest, path = line.split("  ", 1)
        assert hashlib.sha512((folder / path).read_bytes()).hexdigest() == digest


def test_a_required_field_never_given_stops_the_export(sealed_bag: Path, tmp_path: Path) -> None:
    proc = archiver(
        "export", str(sealed_bag), "--profile", "aptrust", "--format", "tar", "--out", str(tmp_path)
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.count("\n") == 1 and "Access" in proc.stderr and "--set Access=" in proc.stderr
    )
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_profile_decides_the_format(sealed_bag: Path, tmp_path: Path) -> None:
    for fmt in ("dir", "zip", "tgz"):
        proc = archiver(
            "export", str(sealed_bag), *APTRUST, "--format", fmt, "--out", str(tmp_path)
        )
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_export_is_never_overwritten(sealed_bag: Path, tmp_path: Path) -> None:
    first = export(sealed_bag, tmp_path, "--format", "zip", "--profile", "btr")
    before = first.read_bytes()
    proc = archiver(
        "export", str(sealed_bag), "--profile", "btr", "--format", "zip", "--out", str(tmp_path)
    )
    assert proc.returncode == 2 and "never overwritten" in proc.stderr
    assert first.read_bytes() == before


def old_bag_with_placeholders(tmp_path: Path) -> Path:
    """A bag as archiver sealed them before profile 1.1: "(not given)" for an unknown identity."""
    b = BagBuilder(tmp_path / "old-bag")
    with b.open_payload("notes.txt") as w:
        w.write(b"captured long ago\n")
    return b.seal(
        [
            ("Source-Organization", "(not given)"),
            ("Contact-Name", "(not given)"),
            ("Contact-Email", "(not given)"),
            ("External-Description", "an old run"),
            (
                "BagIt-Profile-Identifier",
                "https://archiver.invalid/manifests/archiver-bagit-profile.json",
            ),
        ]
    )


def test_a_placeholder_is_never_exported_as_a_value(tmp_path: Path) -> None:
    bag = old_bag_with_placeholders(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVER_ORGANISATION",)}
    proc = archiver("export", str(bag), "--profile", "btr", "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "Source-Organization" in proc.stderr and "archiver init" in proc.stderr
    env["ARCHIVER_ORGANISATION"] = "Library That Knows"
    folder = export(bag, tmp_path / "o2", "--profile", "btr", env=env)
    info = (folder / "bag-info.txt").read_text()
    assert "Source-Organization: Library That Knows" in info and "(not given)" not in info
    bagit_valid(folder)


def test_the_originals_timestamps_verify_by_hand_inside_a_serialised_export(
    sealed_bag: Path, tmp_path: Path
) -> None:
    """docs/handoff.md: from inside archiver-original/, `openssl ts -verify` checks each token."""
    tsa = start_tsa(tmp_path / "tsa", "rsa", "alpha")
    try:
        bag = copy_bag(sealed_bag, tmp_path / "stamped" / sealed_bag.name)
        proc = archiver("timestamp", str(bag), "--tsa", f"alpha={tsa.url},{tsa.root}")
        assert proc.returncode == 0, proc.stderr
    finally:
        tsa.stop()
    tar_path = export(bag, tmp_path / "out", "--format", "tar", *APTRUST)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "xf", str(tar_path), "-C", str(unpacked)], check=True)
    original = unpacked / bag.name / "archiver-original"
    tokens = sorted((original / "provenance-anchors").glob("tagmanifest-*.tsr"))
    assert len(tokens) == 2
    for token in tokens:
        target = token.name.split(".alpha.")[0]
        ok = subprocess.run(
            [
                "openssl",
                "ts",
                "-verify",
                "-data",
                target,
                "-in",
                str(token.relative_to(original)),
                "-CAfile",
                str(tsa.root),
            ],
            cwd=original,
            capture_output=True,
            text=True,
            env=openssl_env(),
        )
        assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stdout + ok.stderr
    rebuilt = tmp_path / "rebuilt" / bag.name
    shutil.copytree(original, rebuilt)
    shutil.copytree(unpacked / bag.name / "data", rebuilt / "data")
    proc = archiver("verify", str(rebuilt), "--tsa-root", str(tsa.root))
    assert proc.returncode == 0 and "timestamp-absent" not in proc.stdout, proc.stdout


def test_set_replaces_a_bag_info_value_once(sealed_bag: Path, tmp_path: Path) -> None:
    folder = export(
        sealed_bag, tmp_path, "--profile", "btr", "--set", "External-Description=For the library"
    )
    info = (folder / "bag-info.txt").read_text().splitlines()
    assert [line for line in info if line.startswith("External-Description")] == [
        "External-Description: For the library"
    ]
    assert (folder / "archiver-original" / "bag-info.txt").read_bytes() == (
        sealed_bag / "bag-info.txt"
    ).read_bytes()
