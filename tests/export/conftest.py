"""A bag made by the real CLI, shared by the hand-off tests (made once: a run takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import archiver
from tests.servers import TestServer


@pytest.fixture(scope="session")
def sealed_bag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sealed bag of one captured page and one 404, with our identity from the environment."""
    tmp = tmp_path_factory.mktemp("handoff")
    server = TestServer("127.0.0.1")
    try:
        doc = tmp / "doc.txt"
        doc.write_text(
            f"see {server.url('/articles/two.html')}\nand {server.url('/status/404')}\n", "utf-8"
        )
        proc = archiver(
            "run",
            str(doc),
            "--out",
            str(tmp / "runs"),
            "--delay",
            "0",
            "--name",
            "bag-1",
            "--progress",
            "none",
        )
        assert proc.returncode == 0, proc.stderr
        yield tmp / "runs" / "bag-1"
    finally:
        server.close()
