"""Library versions read from the installed metadata are importlib.metadata's, without it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from archiver.bag.summary import LIBRARIES
from archiver.base import distversions
from archiver.base.distversions import installed_versions, versions
from tests.helpers import REPO

INSTALLED = LIBRARIES + (
    "PySocks",
    "protego",
    "charset-normalizer",
    "lxml_html_clean",
    "typing.extensions",
    "pytest",
    "no-such-distribution-here",
)


def importlib_answer(names: tuple[str, ...]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def test_the_installed_libraries_versions_are_importlib_metadatas() -> None:
    assert versions(INSTALLED) == importlib_answer(INSTALLED)
    assert installed_versions(INSTALLED) == importlib_answer(INSTALLED)  # read, none asked
    assert "no-such-distribution-here" not in versions(INSTALLED)


def _dist(folder: Path, child: str, **files: str) -> None:
    (folder / child).mkdir(parents=True)
    for name, text in files.items():
        (folder / child / name).write_bytes(text.encode())


def test_names_normalised_first_on_the_path_wins_and_odd_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "Foo_Bar-1.0.dist-info", METADATA="Metadata-Version: 2.1\r\nName: foo-bar\r\n"
          "Version: 1.0 \r\n\r\nVersion: 9 (the body)\n")  # fmt: skip
    _dist(second, "foo.bar-2.0.dist-info", METADATA="Name: foo.bar\nVersion: 2.0\n")
    _dist(second, "empty_meta-3.dist-info", METADATA="", **{"PKG-INFO": "Version: 3.0\n"})
    (second / "legacy-4.0.egg-info").write_text("Metadata-Version: 1.0\nVersion: 4.0b1\n")
    monkeypatch.setattr(sys, "path", [str(first), str(second), str(tmp_path / "absent")])
    names = ("foo-bar", "Empty.Meta", "legacy", "missing")
    assert installed_versions(names) == {"foo-bar": "1.0 ", "Empty.Meta": "3.0", "legacy": "4.0b1"}
    assert versions(names) == importlib_answer(names)


def test_where_the_reader_could_differ_importlib_metadata_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip on the path (its distributions are inside), or a folded Version header."""
    archive = tmp_path / "libs.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-5.0.dist-info/METADATA", "Name: zipped\nVersion: 5.0\n")
    _dist(tmp_path / "dir", "folded-6.dist-info", METADATA="Name: folded\nVersion: 6\n .1\n")
    asked: list[str] = []
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: asked.append(name) or real(name))
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert versions(("zipped",)) == {"zipped": "5.0"} and asked == ["zipped"]
    monkeypatch.setattr(sys, "path", [str(tmp_path / "dir")])
    assert versions(("folded",)) == importlib_answer(("folded",))
    assert asked[1] == "folded"
    with pytest.raises(distversions._Unsure):
        installed_versions(("folded",))


def test_a_run_of_documents_does_not_import_importlib_metadata_for_versions() -> None:
    """The summary's and warcinfo's versions come without importing importlib.metadata."""
    code = (
        "import sys\n"
        "from archiver.base.facts import software\n"
        "from archiver.bag.summary import components\n"
        "software(); components()\n"
        "print('importlib.metadata' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert proc.stdout.strip() == "False"
