"""The code base stays ruff- and mypy-clean: findings fail the suite, not just a pre-commit hook."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import pytest

from tests.helpers import REPO


def test_ruff_check_is_clean() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install '.[test]')")
    proc = subprocess.run(
        [ruff, "check", "archiver", "tests", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    """The type hints are checked, not decoration: mypy over archiver/ (pyproject's [tool.mypy])."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install '.[test]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_imports_without_optional_state() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import archiver.cli, archiver.run.command, archiver.verify.report"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
