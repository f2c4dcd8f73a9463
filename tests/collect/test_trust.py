"""An untrusted collection.toml cannot change how we capture (docs/collections.md).

Its proxy, TLS, robots.txt, identity and [[tsa]] settings are ignored with a warning naming
each one, unless the operator agrees (``--trust-collection-settings`` or the user settings
file). Each test proves it with what real local servers saw, not with what archiver says.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import archiver, capture_log
from tests.servers import ForwardingProxy, TestServer
from tests.tsa import LocalTsa, start_tsa

HOSTILE_HOST = "collection-chosen-host"
HOSTILE_AGENT = "collection-chosen-agent/1.0"


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    t = start_tsa(tmp_path_factory.mktemp("tsa"), "ec", "coll")
    yield t
    t.stop()


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    p = ForwardingProxy()
    yield p
    p.close()


def hostile_collection(
    folder: Path, plain: TestServer, secure: TestServer, proxy: ForwardingProxy, tsa: LocalTsa
) -> dict[str, str]:
    """A collection that tries every trust-changing setting at once; returns its URLs."""
    folder.mkdir()
    shutil.copy(tsa.trust_file, folder / "tsa-root.pem")
    urls = {
        "page": plain.url("/articles/one.html"),
        "private": plain.url("/private/secret.html"),  # robots.txt disallows /private/
        "tls": secure.url("/articles/two.html"),  # a certificate no public CA issued
        "large": plain.url("/large?size=5000"),
    }
    entries = "".join(f'[[url]]\nurl = "{u}"\n\n' for u in urls.values())
    (folder / "collection.toml").write_text(
        '[collection]\nname = "hostile"\n\n'
        + entries
        + "[capture]\n"
        + f'proxy = "{proxy.url}"\n'
        + "verify_tls = false\n"
        + "respect_robots = false\n"
        + 'robots_override_reason = "because the collection says so"\n'
        + f'user_agent = "{HOSTILE_AGENT}"\n'
        + f'hostname = "{HOSTILE_HOST}"\n'
        + "allow_private = true\n"
        + "concurrency = 500\n"
        + 'max_size = "1 KiB"\n\n'
        + f'[[tsa]]\nname = "coll"\nurl = "{tsa.url}"\nroots = ["tsa-root.pem"]\n',
        encoding="utf-8",
    )
    return urls


def run(coll: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return archiver(
        "run",
        str(coll),
        "--out",
        str(out),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "bag",
        "--connect-timeout",
        "3",
        "--read-timeout",
        "5",
        *args,
        env=env,
        timeout=120,
    )


def warcinfo(bag: Path) -> str:
    """The text of the warcinfo records of every WARC in the bag."""
    texts = []
    for warc in sorted((bag / "data" / "warcs").glob("*.warc.gz")):
        data = gzip.decompress(warc.read_bytes()).decode("utf-8", "replace")
        for record in data.split("WARC/1.1\r\n"):
            if "WARC-Type: warcinfo" in record:
                texts.append(record)
    return "\n".join(texts)


def user_agents(server: TestServer) -> set[str]:
    with server.stats.lock:
        return {h.get("User-Agent", "") for _, _, h in server.stats.requests}


@pytest.fixture
def servers(make_server: Callable[..., TestServer]) -> tuple[TestServer, TestServer]:
    return make_server(), make_server(tls=True)


def test_untrusted_collection_settings_are_ignored_and_named(
    tmp_path: Path,
    servers: tuple[TestServer, TestServer],
    proxy: ForwardingProxy,
    tsa: LocalTsa,
) -> None:
    plain, secure = servers
    coll = tmp_path / "coll"
    urls = hostile_collection(coll, plain, secure, proxy, tsa)
    posts_before = tsa.server.requests
    proc = run(coll, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if "ignoring [capture]" in line]
    toml = str(coll / "collection.toml")
    assert (
        f"archiver: {toml}: ignoring [capture] proxy, verify_tls, respect_robots, "
        "robots_override_reason, user_agent, hostname, [[tsa]] (settings that change what is "
        "trusted; pass --trust-collection-settings to use them)"
    ) in warned
    assert any("concurrency" in w and "default limits" in w for w in warned)
    assert any("allow_private" in w and "only the operator" in w for w in warned)

    bag = tmp_path / "out" / "bag"
    log = {e["url"]: e for e in capture_log(bag)}
    assert proxy.forwarded == [] and proxy.connects == []  # the proxy saw no traffic
    assert tsa.server.requests == posts_before  # the collection's TSA got no POST
    assert log[urls["tls"]]["outcome"] == "failed"  # TLS verification stayed on
    assert log[urls["private"]]["outcome"] == "blocked"  # robots.txt still honoured
    assert "/private/secret.html" not in plain.stats.paths()
    agents = user_agents(plain)
    assert agents and all(a.startswith("archiver/") for a in agents), agents
    assert HOSTILE_HOST not in warcinfo(bag)
    assert not any(HOSTILE_HOST in p.name for p in (bag / "data" / "warcs").iterdir())
    # Settings that only make the capture more careful still apply: max_size = "1 KiB".
    assert log[urls["large"]]["truncated"] == "length"
    info = warcinfo(bag)
    assert "collection-settings: no operator consent; applied: max_size=1024;" in info
    assert "ignored: proxy, verify_tls" in info


def test_trusted_collection_settings_apply(
    tmp_path: Path,
    servers: tuple[TestServer, TestServer],
    proxy: ForwardingProxy,
    tsa: LocalTsa,
) -> None:
    plain, secure = servers
    coll = tmp_path / "coll"
    urls = hostile_collection(coll, plain, secure, proxy, tsa)
    posts_before = tsa.server.requests
    proc = run(coll, tmp_path / "out", "--trust-collection-settings")
    assert proc.returncode == 0, proc.stderr
    assert "(settings that change what is trusted" not in proc.stderr
    assert "allow_private" in proc.stderr  # never from a collection, even with consent
    bag = tmp_path / "out" / "bag"
    log = {e["url"]: e for e in capture_log(bag)}
    assert urls["page"] in proxy.forwarded  # through the collection's proxy
    assert log[urls["tls"]]["outcome"] == "captured"  # verify_tls = false applied
    assert log[urls["private"]]["outcome"] != "blocked"  # robots.txt ignored, as asked
    assert user_agents(plain) == {HOSTILE_AGENT}
    assert HOSTILE_HOST in warcinfo(bag)
    assert tsa.server.requests > posts_before
    assert "collection-settings: operator consented;" in warcinfo(bag)


def test_user_settings_file_can_give_consent(
    tmp_path: Path,
    servers: tuple[TestServer, TestServer],
    proxy: ForwardingProxy,
    tsa: LocalTsa,
) -> None:
    plain, secure = servers
    coll = tmp_path / "coll"
    hostile_collection(coll, plain, secure, proxy, tsa)
    settings = tmp_path / "settings.toml"
    settings.write_text("trust_collection_settings = true\n", encoding="utf-8")
    proc = run(coll, tmp_path / "out", env=env_with(ARCHIVER_CONFIG=str(settings)))
    assert proc.returncode == 0, proc.stderr
    assert "(settings that change what is trusted" not in proc.stderr
    assert user_agents(plain) == {HOSTILE_AGENT}


def env_with(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def test_user_settings_beat_the_collection_and_options_beat_both(
    tmp_path: Path, make_server: Callable[..., TestServer]
) -> None:
    """defaults < collection < user settings < environment < options."""
    plain = make_server()
    coll = tmp_path / "coll"
    coll.mkdir()
    (coll / "collection.toml").write_text(
        f'[collection]\nname = "p"\n\n[[url]]\nurl = "{plain.url("/articles/one.html")}"\n\n'
        '[capture]\nuser_agent = "from-collection"\n',
        encoding="utf-8",
    )
    settings = tmp_path / "settings.toml"
    settings.write_text(
        'user_agent = "from-user-settings"\noperator = "Operator From File"\nmax_size = "10 MB"\n',
        encoding="utf-8",
    )
    env = env_with(ARCHIVER_CONFIG=str(settings))
    env.pop("ARCHIVER_OPERATOR")  # the test identity (conftest) would beat the file's operator
    proc = run(coll, tmp_path / "out", "--trust-collection-settings", env=env)
    assert proc.returncode == 0, proc.stderr
    assert user_agents(plain) == {"from-user-settings"}
    assert "operator: Operator From File" in warcinfo(tmp_path / "out" / "bag")
    plain.stats.reset()
    proc = run(coll, tmp_path / "out2", "--user-agent", "from-option", env=env)
    assert proc.returncode == 0, proc.stderr
    assert user_agents(plain) == {"from-option"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trust_collection_settings = \n", "line 1, column"),
        ('operator = "x"\nallow_private = yes\n', "line 2, column"),
        ("trust_colection_settings = true\n", "did you mean 'trust_collection_settings'"),
        ("allow_private = 1\n", "'allow_private' has the wrong type"),
        ('max_size = "ten megabytes"\n', "'max_size'"),
    ],
)
def test_bad_user_settings_is_a_one_line_error(tmp_path: Path, text: str, expected: str) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(text, encoding="utf-8")
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n", encoding="utf-8")
    proc = archiver(
        "run", str(doc), "--out", str(tmp_path / "out"), env=env_with(ARCHIVER_CONFIG=str(settings))
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"archiver: {settings}: ") and expected in lines[0], lines[0]


def test_missing_settings_file_named_by_the_environment(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n", encoding="utf-8")
    missing = tmp_path / "nope.toml"
    proc = archiver(
        "run", str(doc), "--out", str(tmp_path / "o"), env=env_with(ARCHIVER_CONFIG=str(missing))
    )
    assert proc.returncode == 2 and f"{missing}: no such file" in proc.stderr


def test_settings_file_is_found_under_xdg_config_home(
    tmp_path: Path, make_server: Callable[..., TestServer]
) -> None:
    plain = make_server()
    (tmp_path / "xdg" / "archiver").mkdir(parents=True)
    (tmp_path / "xdg" / "archiver" / "settings.toml").write_text('user_agent = "xdg-agent"\n')
    doc = tmp_path / "doc.txt"
    doc.write_text(f"see {plain.url('/articles/one.html')}\n", encoding="utf-8")
    env = env_with(XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("ARCHIVER_CONFIG")
    proc = archiver(
        "run", str(doc), "--out", str(tmp_path / "o"), "--delay", "0", "--progress", "none", env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert user_agents(plain) == {"xdg-agent"}


def test_hops_precedence_option_over_user_settings_over_collection(tmp_path: Path) -> None:
    coll = tmp_path / "coll"
    coll.mkdir()
    (coll / "collection.toml").write_text(
        '[collection]\nname = "h"\n\n[[document]]\nurl = "https://example.org/r"\ntitle = "R"\n\n'
        "[capture]\nhops = 0\n",
        encoding="utf-8",
    )
    settings = tmp_path / "settings.toml"
    settings.write_text("hops = 3\n", encoding="utf-8")

    def hops(*args: str, config: str = "/dev/null") -> int:
        proc = archiver(
            "run", str(coll), "--dry-run", "--json", *args, env=env_with(ARCHIVER_CONFIG=config)
        )
        assert proc.returncode == 0, proc.stderr
        return int(json.loads(proc.stdout)["urls"][0]["hops"])

    assert hops() == 0
    assert hops(config=str(settings)) == 3
    assert hops("--hops", "2", config=str(settings)) == 2


def test_settings_file_anyone_can_write_is_refused(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("trust_collection_settings = true\n", encoding="utf-8")
    settings.chmod(0o666)
    doc = tmp_path / "doc.txt"
    doc.write_text("see https://example.org/a\n", encoding="utf-8")
    proc = archiver("run", str(doc), "--dry-run", env=env_with(ARCHIVER_CONFIG=str(settings)))
    assert proc.returncode == 2 and "chmod o-w" in proc.stderr


def test_user_settings_map_onto_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """allow_private and identity come from the operator's file; a collection cannot set them."""
    from archiver.run.options import RunOptions
    from archiver.run.plan import plan_run
    from archiver.run.settings import build_settings

    settings = tmp_path / "settings.toml"
    settings.write_text(
        'allow_private = true\noperator = "Op"\ncontact_email = "op@example.org"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ARCHIVER_CONFIG", str(settings))
    monkeypatch.delenv("ARCHIVER_ALLOW_PRIVATE", raising=False)
    for name in ("ARCHIVER_OPERATOR", "ARCHIVER_CONTACT"):  # the tests' identity (conftest)
        monkeypatch.delenv(name, raising=False)
    options = RunOptions(sources=["https://example.org/"], out=tmp_path / "out")
    s = build_settings(plan_run(options.sources, None), options)
    assert (s.allow_private, s.operator, s.contact_email) == (True, "Op", "op@example.org")
    monkeypatch.setenv("ARCHIVER_CONFIG", os.devnull)
    assert build_settings(plan_run(options.sources, None), options).allow_private is False
