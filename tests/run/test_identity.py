"""Who we are, once: `archiver init` writes the settings file; no bag carries a placeholder."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tests.helpers import archiver
from tests.servers import TestServer

IDENTITY_VARS = ("ARCHIVER_ORGANISATION", "ARCHIVER_OPERATOR", "ARCHIVER_CONTACT")


def no_identity_env(tmp_path: Path) -> dict[str, str]:
    """The environment of an operator who never said who they are (XDG config in tmp_path)."""
    env = {k: v for k, v in os.environ.items() if k not in (*IDENTITY_VARS, "ARCHIVER_CONFIG")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    return env


def doc_citing(tmp_path: Path, server: TestServer) -> Path:
    doc = tmp_path / "doc.txt"
    doc.write_text(f"see {server.url('/articles/two.html')}\n", encoding="utf-8")
    return doc


def test_a_run_without_identity_stops_before_any_request(
    tmp_path: Path,
    make_server,  # noqa: ANN001
) -> None:
    server = make_server()
    env = no_identity_env(tmp_path)
    proc = archiver("run", str(doc_citing(tmp_path, server)), "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "organisation" in proc.stderr and "archiver init" in proc.stderr
    assert server.stats.requests == [] and not (tmp_path / "o").exists()


def test_init_then_run_puts_the_identity_in_the_bag_without_placeholders(
    tmp_path: Path,
    make_server,  # noqa: ANN001
) -> None:
    env = no_identity_env(tmp_path)
    proc = archiver(
        "init",
        "--organisation",
        "Example Rights Library",
        "--operator",
        "J. Doe",
        "--contact-email",
        "archive@example.org",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "xdg" / "archiver" / "settings.toml"
    assert str(path) in proc.stdout
    assert tomllib.loads(path.read_text())["organisation"] == "Example Rights Library"
    server = make_server()
    proc = archiver(
        "run",
        str(doc_citing(tmp_path, server)),
        "--out",
        str(tmp_path / "o"),
        "--name",
        "b",
        "--delay",
        "0",
        "--progress",
        "none",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    info = (tmp_path / "o" / "b" / "bag-info.txt").read_text()
    assert "Source-Organization: Example Rights Library" in info
    assert "Contact-Name: J. Doe" in info and "Contact-Email: archive@example.org" in info
    assert "(not given)" not in info
    assert archiver("profile", "check", str(tmp_path / "o" / "b"), "ours").returncode == 0


def test_init_never_overwrites_without_force_and_keeps_other_keys(tmp_path: Path) -> None:
    env = no_identity_env(tmp_path)
    path = tmp_path / "xdg" / "archiver" / "settings.toml"
    path.parent.mkdir(parents=True)
    path.write_text('per_host_delay = 2.5\norganisation = "Old Name"\n')
    args = ("init", "--organisation", "New Name", "--operator", "op", "--contact-email", "a@b.org")
    proc = archiver(*args, env=env)
    assert proc.returncode == 2 and "--force" in proc.stderr and proc.stderr.count("\n") == 1
    assert "Old Name" in path.read_text()
    assert archiver(*args, "--force", env=env).returncode == 0
    data = tomllib.loads(path.read_text())
    assert data["organisation"] == "New Name" and data["per_host_delay"] == 2.5


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--operator", "op", "--contact-email", "a@b.org"), "--organisation"),
        (("--organisation", "Org", "--operator", "op"), "--contact-email"),
        (("--organisation", "Org", "--contact-email", "a@b.org"), "--operator"),
        (("--organisation", "Org", "--operator", "op", "--contact-email", "nope"), "email"),
    ],
)
def test_init_refuses_an_incomplete_identity(
    tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    proc = archiver("init", *args, env=no_identity_env(tmp_path))
    assert proc.returncode == 2 and named in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "xdg").exists()


def test_init_stores_default_tsas_that_runs_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root.pem"
    root.write_text("-----BEGIN CERTIFICATE-----\n")
    env = no_identity_env(tmp_path)
    proc = archiver(
        "init",
        "--organisation",
        "Org",
        "--operator",
        "op",
        "--contact-email",
        "a@b.org",
        "--tsa",
        f"test=http://127.0.0.1:9/tsa,{root}",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    monkeypatch.delenv("ARCHIVER_CONFIG")
    from archiver.run.usersettings import user_tsas

    (tsa,) = user_tsas()
    assert (tsa.name, tsa.url, tsa.roots) == ("test", "http://127.0.0.1:9/tsa", [root.resolve()])


def test_custody_events_name_the_operator_from_init(tmp_path: Path) -> None:
    from archiver.bag.writer import BagBuilder

    b = BagBuilder(tmp_path / "bags" / "b")
    with b.open_payload("a.txt") as w:
        w.write(b"a\n")
    bag = b.seal([("Source-Organization", "Org")])
    env = no_identity_env(tmp_path)
    init = ("init", "--organisation", "Org", "--operator", "J. Doe", "--contact-email", "a@b.org")
    assert archiver(*init, env=env).returncode == 0
    assert archiver("custody", "record", str(bag), "exported", env=env).returncode == 0
    log = (tmp_path / "bags" / "custody-log.jsonl").read_text()
    assert '"actor":"J. Doe"' in log and "(not given)" not in log


def test_the_settings_file_is_where_each_platform_keeps_a_users_settings(tmp_path: Path) -> None:
    from archiver.base.userconfig import settings_path

    home = Path.home()
    xdg = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert settings_path({}, "linux") == (home / ".config/archiver/settings.toml", False)
    assert settings_path(xdg, "linux") == (tmp_path / "xdg/archiver/settings.toml", False)
    mac = home / "Library/Application Support/archiver/settings.toml"
    assert settings_path(xdg, "darwin") == (mac, False)  # XDG is a Linux convention
    chosen = {"ARCHIVER_CONFIG": str(tmp_path / "mine.toml"), **xdg}
    assert settings_path(chosen, "darwin") == (tmp_path / "mine.toml", True)
