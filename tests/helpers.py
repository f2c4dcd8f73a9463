"""Small helpers shared by the end-to-end tests: run the real CLI, read what a bag logged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"


def archiver(
    *args: str,
    timeout: float = 300,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m archiver ARGS`` as a user would, capturing stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def capture_log(bag: Path) -> list[dict[str, Any]]:
    """The entries of a sealed bag's capture log, in order."""
    lines = (bag / "data" / "capture-log.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]
