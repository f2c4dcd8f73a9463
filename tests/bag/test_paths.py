"""Manifest path encoding (exactly %, CR, LF) and path-safety rules."""

from __future__ import annotations

import pytest

from archiver.bag.paths import (
    check_payload_relpath,
    decode_path,
    encode_path,
    is_inside,
    is_os_junk,
    unsafe_reason,
)


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("data/plain.txt", "data/plain.txt"),
        ("data/100%.txt", "data/100%25.txt"),
        ("data/a\nb", "data/a%0Ab"),
        ("data/a\rb", "data/a%0Db"),
        ("data/a%0Ab", "data/a%250Ab"),
        ("data/~ sp\u00e9cial #?&", "data/~ sp\u00e9cial #?&"),  # nothing else is encoded
    ],
)
def test_encode_decode_round_trip(name: str, encoded: str) -> None:
    assert encode_path(name) == encoded
    assert decode_path(encoded, (1, 0)) == name


def test_decoding_depends_on_version() -> None:
    assert decode_path("data/%7Etest", (1, 0)) == "data/%7Etest"  # not an encoding in 1.0
    assert decode_path("data/a%0ab%0D", (1, 0)) == "data/a\nb\r"  # hex case-insensitive
    assert decode_path("data/a%0Ab%25", (0, 97)) == "data/a%0Ab%25"  # literal before 1.0


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../x",
        "data/../../x",
        "/etc/passwd",
        "~/x",
        "~root/x",
        "C:/x",
        "c:x",
        "data\\x",
        "\\\\server\\share",
        "data/\x00",
        "data//x",
        "data/./x",
        "data/",
    ],
)
def test_unsafe_paths(path: str) -> None:
    assert unsafe_reason(path) is not None


@pytest.mark.parametrize("path", ["data/x", "data/..x", "data/x..", "data/~x", "data/a:b"])
def test_safe_paths(path: str) -> None:
    assert unsafe_reason(path) is None


def test_is_inside_uses_components_not_prefixes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bag = str(tmp_path / "bag")
    assert is_inside(bag, f"{bag}/data/x")
    assert not is_inside(bag, f"{bag}-evil/x")
    assert not is_inside(bag, f"{bag}/../bag-evil/x")


def test_writer_path_rules() -> None:
    assert check_payload_relpath("text/x.txt") is None
    assert check_payload_relpath("bad\udcffname") is not None  # undecodable file-system name
    assert check_payload_relpath("a/../b") is not None


def test_os_junk() -> None:
    assert is_os_junk("data/x/.DS_Store") and is_os_junk("data/Thumbs.db")
    assert is_os_junk("data/._photo.jpg") and not is_os_junk("data/photo.jpg")
