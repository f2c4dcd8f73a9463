"""pywb from the pip package, started by a test on 127.0.0.1: ``wb-manager`` then ``wayback``.

Only the replay of what a bag holds is asked of it; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

COLLECTION = "evidence"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A replayed redirect is looked at, not followed (it may point at the live site)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Wayback:
    """A pywb collection in ``root`` and, once started, its ``wayback`` server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._manager("init", COLLECTION)

    def _manager(self, *args: str) -> None:
        code = "from pywb.manager.manager import main; main()"
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr

    def add(self, *files: Path, unpack_wacz: bool = False) -> None:
        """``wb-manager add`` (WARCs: pywb indexes them itself; a WACZ: its own index is used)."""
        flags = ["--unpack-wacz"] if unpack_wacz else []
        self._manager("add", *flags, COLLECTION, *(str(f) for f in files))

    def index_lines(self) -> list[str]:
        out: list[str] = []
        for path in sorted((self.root / "collections" / COLLECTION / "indexes").iterdir()):
            out.extend(path.read_text("utf-8").splitlines())
        return out

    def start(self) -> Wayback:
        self.port = _free_port()
        code = "from pywb.apps.cli import wayback; wayback()"
        args = ["-p", str(self.port), "-b", "127.0.0.1", "-d", str(self.root)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60  # a wait for start-up, not a timing under test
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("wayback did not start") from None
                time.sleep(0.1)

    def get(self, url: str, ts: str = "", mode: str = "id_") -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of ``url`` replayed at ``ts``: ``id_`` the bytes as captured,
        ``mp_`` the page as a reader sees it (rewritten), ``""`` pywb's frame."""
        at = f"{ts}{mode}/" if ts or mode else ""
        address = f"http://127.0.0.1:{self.port}/{COLLECTION}/{at}{url}"
        try:
            with _OPENER.open(address, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Wayback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
