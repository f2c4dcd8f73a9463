"""`archiver profile check BAG PROFILE`: real profiles, bags made by the real CLI, broken bags."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.export.helpers import copy_bag, reseal_tags
from tests.helpers import REPO, archiver

MANIFESTS = REPO / "manifests"


def check(bag: Path, profile: str) -> tuple[int, list[str]]:
    proc = archiver("profile", "check", str(bag), profile)
    assert "Traceback" not in proc.stderr
    return proc.returncode, (proc.stdout + proc.stderr).splitlines()


def test_a_run_bag_conforms_to_our_profile_by_name_urn_and_file(sealed_bag: Path) -> None:
    urn = json.loads((MANIFESTS / "archiver-bagit-profile.json").read_text())["BagIt-Profile-Info"][
        "BagIt-Profile-Identifier"
    ]
    assert urn.startswith("urn:uuid:")
    for spec in ("ours", urn, str(MANIFESTS / "archiver-bagit-profile.json")):
        code, lines = check(sealed_bag, spec)
        assert code == 0, lines
    # The profile travels inside the bag, byte for byte, covered by its tag manifests.
    assert (sealed_bag / "archiver-bagit-profile.json").read_bytes() == (
        MANIFESTS / "archiver-bagit-profile.json"
    ).read_bytes()
    assert "archiver-bagit-profile.json" in (sealed_bag / "tagmanifest-sha512.txt").read_text()


def test_aptrust_names_every_problem_of_a_plain_bag_one_per_line(sealed_bag: Path) -> None:
    code, lines = check(sealed_bag, "aptrust")
    assert code == 1
    text = "\n".join(lines)
    for expected in (
        "[profile-manifests-required]",  # md5
        "[profile-manifests-allowed]",  # sha512 is not allowed
        "[profile-tag-file-required]",  # aptrust-info.txt
        "[profile-serialization]",  # a folder where a tar is required
        "[profile-identifier]",
    ):
        assert expected in text, text
    assert sum("aptrust-info.txt" in line for line in lines) == 1  # each problem once


def test_btr_accepts_its_export_and_refuses_a_missing_required_tag(
    sealed_bag: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert (
        archiver("export", str(sealed_bag), "--profile", "btr", "--out", str(out)).returncode == 0
    )
    bag = out / sealed_bag.name
    assert check(bag, "btr")[0] == 0
    info = bag / "bag-info.txt"
    info.write_text(
        "".join(
            line for line in info.read_text().splitlines(True) if "Source-Organization" not in line
        )
    )
    code, lines = check(bag, "btr")
    assert code == 1 and any("Source-Organization" in line for line in lines), lines


def _profile(tmp_path: Path, **changes: object) -> str:
    profile = json.loads((MANIFESTS / "archiver-bagit-profile.json").read_text())
    profile.update(changes)
    path = tmp_path / "custom-profile.json"
    path.write_text(json.dumps(profile))
    return str(path)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"Payload-Files-Required": ["data/manifesto.pdf"]}, "profile-payload-file-required"),
        ({"Payload-Files-Allowed": ["data/warcs/*"]}, "profile-payload-file-allowed"),
        ({"Tag-Files-Required": ["dpn-tags/dpn-info.txt"]}, "profile-tag-file-required"),
        ({"Tag-Files-Allowed": ["bag-info.txt"]}, "profile-tag-file-allowed"),
        ({"Accept-BagIt-Version": ["0.97"]}, "profile-bagit-version"),
        ({"Manifests-Required": ["md5"]}, "profile-manifests-required"),
        ({"Serialization": "required"}, "profile-serialization"),
    ],
)
def test_rules_bagit_profile_misses_are_checked(
    sealed_bag: Path, tmp_path: Path, changes: dict[str, object], code: str
) -> None:
    result, lines = check(sealed_bag, _profile(tmp_path, **changes))
    assert result == 1 and any(f"[{code}]" in line for line in lines), lines


def test_required_values_are_checked(sealed_bag: Path, tmp_path: Path) -> None:
    bag = copy_bag(sealed_bag, tmp_path / "bag")
    info = bag / "bag-info.txt"
    info.write_text(info.read_text().replace("urn:uuid:", "urn:other:"))
    reseal_tags(bag)
    code, lines = check(bag, "ours")
    assert code == 1 and any("[profile-tag-value]" in line for line in lines), lines


def test_serialised_bags_are_judged_by_content_not_name(sealed_bag: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("--profile", "aptrust", "--set", "Access=Institution", "--out", str(out))
    assert archiver("export", str(sealed_bag), "--format", "tar", *args).returncode == 0
    tar = out / f"{sealed_bag.name}.tar"
    disguised = tar.with_suffix(".zip")  # a tar named .zip is still a tar
    shutil.copyfile(tar, disguised)
    assert check(disguised, "aptrust")[0] == 0
    zipped = tmp_path / "z"
    proc = archiver(
        "export", str(sealed_bag), "--profile", "btr", "--format", "zip", "--out", str(zipped)
    )
    assert proc.returncode == 0, proc.stderr
    as_tar = tmp_path / f"{sealed_bag.name}.tar"  # a zip named .tar is refused as a zip
    shutil.copyfile(zipped / f"{sealed_bag.name}.zip", as_tar)
    code, lines = check(as_tar, "aptrust")
    assert code == 1 and any("application/zip (by content)" in line for line in lines), lines
    assert check(as_tar, "btr")[0] == 0


def test_not_a_bag_or_not_a_profile_is_bad_input(sealed_bag: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not an archive at all" * 40)
    assert check(junk, "ours")[0] == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"BagIt-Profile-Info": {"Source-Organization": "x"}}))
    code, lines = check(sealed_bag, str(bad))
    assert code == 2 and len(lines) == 1 and "not a valid BagIt profile" in lines[0], lines
    assert check(sealed_bag, str(tmp_path / "missing.json"))[0] == 2


@pytest.fixture
def profile_server(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving manifests/ (a profile published by URL)."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(MANIFESTS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_profile_by_url_and_a_url_that_cannot_be_fetched(
    sealed_bag: Path, profile_server: str, refused_url: str
) -> None:
    assert check(sealed_bag, f"{profile_server}/archiver-bagit-profile.json")[0] == 0
    assert check(sealed_bag, f"{profile_server}/aptrust-bagit-profile.json")[0] == 1
    code, lines = check(sealed_bag, f"{profile_server}/no-such-profile.json")
    assert code == 2 and len(lines) == 1 and "cannot fetch" in lines[0], lines
    code, lines = check(sealed_bag, refused_url)  # never 0 without the profile
    assert code == 2 and "cannot fetch" in lines[0], lines


def as_sealed_before_profile_1_1(bag: Path, dest: Path) -> Path:
    """The bag as archiver wrote it before 1.1: placeholders, the archiver.invalid identifier."""
    old = copy_bag(bag, dest)
    (old / "archiver-bagit-profile.json").unlink()
    lines = []
    for line in (old / "bag-info.txt").read_text().splitlines(True):
        label = line.split(":", 1)[0]
        if label in ("Source-Organization", "Contact-Email", "Capture-Operator"):
            line = f"{label}: (not given)\n"
        if label == "BagIt-Profile-Identifier":
            line = f"{label}: https://archiver.invalid/manifests/archiver-bagit-profile.json\n"
        lines.append(line)
    (old / "bag-info.txt").write_text("".join(lines))
    reseal_tags(old)
    return old


def test_old_bags_with_placeholders_still_verify_with_a_warning(
    sealed_bag: Path, tmp_path: Path
) -> None:
    old = as_sealed_before_profile_1_1(sealed_bag, tmp_path / "old")
    proc = archiver("verify", str(old))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[bag-info-placeholder]" in proc.stdout
    code, lines = check(old, str(MANIFESTS / "archiver-bagit-profile-1.0.json"))
    assert code == 0, lines


@pytest.mark.parametrize(
    "info",
    [
        {"../../ESCAPED.txt": {"Owned": {"required": True, "default": "pwned"}}},
        {"/tmp/archiver-ABS.txt": {"Owned": {"default": "pwned"}}},
        {"extra-info.txt": {"Title": {"default": "x\nInjected: line"}}},
        {"extra-info.txt": {"Bad: label": {"default": "x"}}},
    ],
)
def test_a_profile_cannot_write_outside_the_bag_or_inject_lines(
    sealed_bag: Path, tmp_path: Path, info: dict[str, object]
) -> None:
    """A profile may come from a URL: its tag-file names and values are checked before use."""
    profile = json.loads((MANIFESTS / "btr-bagit-profile.json").read_text("utf-8"))
    profile["X-Archiver-Tag-File-Info"] = info
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(profile), "utf-8")
    out = tmp_path / "deep" / "er" / "out"
    proc = archiver("export", str(sealed_bag), "--profile", str(hostile), "--out", str(out))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "X-Archiver-Tag-File-Info" in proc.stderr
    assert not (tmp_path / "deep" / "ESCAPED.txt").exists()
    assert not Path("/tmp/archiver-ABS.txt").exists()
    assert not out.exists() or not any(out.iterdir())
    assert check(sealed_bag, str(hostile))[0] == 2


def test_tag_files_unpacked_for_a_check_are_bounded_in_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each tag file is capped, and so is their sum: many tag files cannot fill /tmp."""
    import io
    import tarfile

    from archiver.export import archive

    monkeypatch.setattr(archive, "MAX_TAG_BYTES", 1000)
    path = tmp_path / "many.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(5):
            info = tarfile.TarInfo(f"bag/tag-{i}.txt")
            info.size = 400
            tar.addfile(info, io.BytesIO(b"x" * 400))
    with archive.open_bag(path) as view:
        kept = sorted(p.name for p in view.root.rglob("*.txt"))
        refused = [rel for code, rel, _ in view.problems if code == "tag-file-size"]
    assert kept == ["tag-0.txt", "tag-1.txt"] and refused == ["tag-2.txt", "tag-3.txt", "tag-4.txt"]
