"""Loading collection.toml: the shipped collections, and one-line errors for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.settings import Settings
from archiver.collect.collection import Collection, load_collection
from archiver.collect.documents import find_urls, group_by_url
from tests.helpers import DATA, REPO

COLLECTIONS = REPO / "collections"
HRD_SEED = DATA / "seeds" / "hrd-blog-safeguard-defenders.txt"
HRD_URL = "https://humanrightsdefenders.blog/tag/safeguard-defenders-ngo/"


# --- the shipped collections -----------------------------------------------------------------


def test_jasic_workers_collection():
    c = load_collection(COLLECTIONS / "jasic-workers")
    assert c.name == "jasic-workers"
    assert c.toml_path == COLLECTIONS / "jasic-workers" / "collection.toml"
    assert c.root == COLLECTIONS / "jasic-workers"
    assert [d.publisher.split(" ")[0] for d in c.documents] == ["Hong", "NPR", "Wikipedia"]
    assert [d.url for d in c.documents] == [
        "https://en.hkctu.org.hk/content/detained-members-support-group-jasic-workers-seemed-"
        "%E2%80%9Cpledge-guilty%E2%80%9D-videos",
        "https://www.iowapublicradio.org/2020-06-29/some-of-chinas-freed-labor-activists-start-"
        "new-lives-but-state-pressure-lurks",
        "https://en.wikipedia.org/wiki/Jasic_Workers_Solidarity_Group",
    ]
    assert c.extra_urls == []
    hkctu = c.documents[0]
    assert hkctu.published == "2019-01-30"
    assert "dissolved in 2021" in hkctu.note and "failure" in hkctu.note
    assert all(d.title and d.file is None for d in c.documents)


def test_safeguard_defenders_collection_lists_every_url_the_page_prints():
    c = load_collection(COLLECTIONS / "safeguard-defenders" / "collection.toml")
    assert c.name == "safeguard-defenders"
    assert [d.url for d in c.documents] == [HRD_URL]
    assert len(c.extra_urls) == 17
    # Cross-check against what `archiver urls` finds in the page's text.
    printed = [g.url for g in group_by_url(find_urls(HRD_SEED))]
    assert [u.url for u in c.extra_urls] == printed
    assert all(u.cited_in == HRD_URL and u.locator.startswith("post ") for u in c.extra_urls)
    frag = c.extra_urls[-1]
    assert frag.cited_as.endswith("#crKm6uQdL4vf7sJS.97") and "#" not in frag.url
    assert len(c.seed_urls()) == 18


def test_shipped_collections_hold_no_copies_of_the_documents():
    files = sorted(p.name for p in COLLECTIONS.rglob("*") if p.is_file())
    assert files == ["collection.toml", "collection.toml"]


@pytest.mark.parametrize("name", ["jasic-workers", "safeguard-defenders"])
def test_shipped_capture_overrides_apply_to_settings(name):
    c = load_collection(COLLECTIONS / name)
    settings = Settings().with_overrides(**c.capture_overrides)
    assert settings.hops == 1
    assert c.curator.name


# --- a collection written for the test -------------------------------------------------------

GOOD = """
[collection]
name = "test-set"
title = "Test"
description = "For tests."
curator = { name = "A. Curator", email = "curator@example.org" }
organisation = "Example Library"

[[document]]
url = "HTTPS://Example.org:443/report#summary"
title = "A report"
file = "sources/report.txt"
publisher = "Example"
published = "2020"
hops = 0

[[document]]
url = "https://example.net/page"
title = "A page"

[[url]]
url = "https://example.com/cited"
cited_in = "https://example.org/report"
locator = "footnote 3"
note = "the key source"

[[url]]
url = "https://example.com/cited"
cited_in = "https://example.net/page"

[capture]
hops = 2
per_host_delay = 0.5
respect_robots = false
robots_override_reason = "the publisher asked us to preserve it"
user_agent = "archiver-test"
contact_email = "curator@example.org"
proxy = "socks5h://127.0.0.1:9050"
"""


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "collection.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    folder = tmp_path / "coll"
    (folder / "sources").mkdir(parents=True)
    (folder / "sources" / "report.txt").write_text("text of the report\n")
    write(folder, GOOD)
    return folder


def test_full_format_loads(good: Path):
    c = load_collection(good)
    assert isinstance(c, Collection)
    assert (c.name, c.title, c.description, c.organisation) == (
        "test-set",
        "Test",
        "For tests.",
        "Example Library",
    )
    assert (c.curator.name, c.curator.email) == ("A. Curator", "curator@example.org")
    first, second = c.documents
    assert first.url == "https://example.org/report"
    assert first.cited_as == "HTTPS://Example.org:443/report#summary"
    assert first.file == good / "sources" / "report.txt" and first.file.is_file()
    assert (first.hops, second.hops, second.file) == (0, None, None)
    assert [(u.url, u.cited_in, u.locator) for u in c.extra_urls] == [
        ("https://example.com/cited", "https://example.org/report", "footnote 3"),
        ("https://example.com/cited", "https://example.net/page", ""),
    ]
    assert c.seed_urls() == [
        "https://example.org/report",
        "https://example.net/page",
        "https://example.com/cited",
    ]
    settings = Settings().with_overrides(**c.capture_overrides)
    assert (settings.hops, settings.per_host_delay, settings.respect_robots) == (2, 0.5, False)
    assert settings.proxy == "socks5h://127.0.0.1:9050"


def test_minimal_collection(tmp_path: Path):
    folder = tmp_path / "min"
    write(folder, '[collection]\nname = "min"\n')
    c = load_collection(folder / "collection.toml")
    assert (c.documents, c.extra_urls, c.capture_overrides, c.curator.name) == ([], [], {}, "")


def test_curator_may_be_just_a_name(tmp_path: Path):
    write(tmp_path, '[collection]\nname = "x"\ncurator = "Jane Doe"\n')
    assert load_collection(tmp_path).curator.name == "Jane Doe"


def test_published_may_be_a_toml_date(tmp_path: Path):
    write(
        tmp_path,
        '[collection]\nname = "x"\n[[document]]\nurl = "https://a.org/"\ntitle = "t"\n'
        "published = 2019-01-30\n",
    )
    assert load_collection(tmp_path).documents[0].published == "2019-01-30"


# --- errors: one line naming the file and what to fix -----------------------------------------

HEAD = '[collection]\nname = "x"\n'
DOC = '[[document]]\nurl = "https://a.org/"\ntitle = "t"\n'

ERROR_CASES = {
    "bad-toml": ('[collection]\nname = "x"\n\n[[document]\nurl = "https://a.org/"\n', "line 4"),
    "no-collection-table": (DOC, "missing the [collection] table"),
    "no-name": ('[collection]\ntitle = "t"\n', "missing 'name'"),
    "bad-name": ('[collection]\nname = "my docs/2024"\n', "name 'my docs/2024' may only use"),
    "unknown-top-key": (HEAD + "[captrue]\nhops = 1\n", "unknown key 'captrue'"),
    "unknown-collection-key": (HEAD + 'curater = "me"\n', "unknown key 'curater'"),
    "unknown-curator-key": (HEAD + 'curator = { mail = "a@b.org" }\n', "unknown key 'mail'"),
    "missing-url": ('[collection]\nname = "x"\n[[document]]\ntitle = "t"\n', "missing 'url'"),
    "missing-title": (HEAD + '[[document]]\nurl = "https://a.org/"\n', "missing 'title'"),
    "url-not-http": (
        HEAD + '[[document]]\nurl = "ftp://a.org/x"\ntitle = "t"\n',
        "is not an http(s) URL",
    ),
    "url-not-string": (HEAD + "[[document]]\nurl = 5\ntitle = 't'\n", "must be a string"),
    "unknown-document-key": (HEAD + DOC + 'titel = "t"\n', "unknown key 'titel'"),
    "duplicate-document": (HEAD + DOC + DOC, "#2 (https://a.org/): url https://a.org/ is already"),
    "missing-file": (
        HEAD + DOC + 'file = "sources/gone.pdf"\n',
        "file 'sources/gone.pdf' does not exist",
    ),
    "file-outside": (HEAD + DOC + 'file = "../outside.txt"\n', "outside the collection folder"),
    "file-absolute": (HEAD + DOC + 'file = "/etc/hostname"\n', "is absolute"),
    "negative-hops": (HEAD + DOC + "hops = -1\n", "'hops' must be a whole number"),
    "document-not-array": (HEAD + '[document]\nurl = "https://a.org/"\n', "[[document]]"),
    "extra-url-missing-url": (HEAD + '[[url]]\nnote = "n"\n', "[[url]] #1: missing 'url'"),
    "extra-url-unknown-key": (
        HEAD + '[[url]]\nurl = "https://a.org/"\ncited = "x"\n',
        "unknown key 'cited'",
    ),
    "capture-unknown-key": (
        HEAD + "[capture]\nhop = 1\n",
        "unknown key 'hop'; did you mean 'hops'?",
    ),
    "capture-unknown-far": (
        HEAD + "[capture]\nzzz = 1\n",
        "unknown key 'zzz'; use one of allow_private, ca_bundle,",
    ),
    "capture-wrong-type": (
        HEAD + '[capture]\nhops = "one"\n',
        "'hops' = \"one\" has the wrong type",
    ),
    "capture-bool-for-int": (HEAD + "[capture]\nhops = true\n", "'hops' = true has the wrong"),
    "capture-negative": (HEAD + "[capture]\nper_host_delay = -1.5\n", "is negative"),
    "robots-without-reason": (
        HEAD + "[capture]\nrespect_robots = false\n",
        "needs robots_override_reason",
    ),
}


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_errors_are_one_line_naming_file_and_fix(tmp_path: Path, text: str, expected: str):
    (tmp_path / "outside.txt").write_text("x")
    folder = tmp_path / "coll"
    path = write(folder, text)
    with pytest.raises(ArchiverError) as err:
        load_collection(folder)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message
    assert err.value.exit_code == EXIT_USAGE


def test_toml_that_is_not_utf8(tmp_path: Path):
    (tmp_path / "collection.toml").write_bytes(b'[collection]\nname = "caf\xe9"\n')
    with pytest.raises(ArchiverError, match=r"collection\.toml: is not UTF-8 text"):
        load_collection(tmp_path)


def test_missing_collection_folder_or_file(tmp_path: Path):
    with pytest.raises(ArchiverError, match="no such collection file or folder"):
        load_collection(tmp_path / "nope")
    with pytest.raises(ArchiverError, match=r"no collection\.toml in this folder"):
        load_collection(tmp_path)


def test_float_setting_accepts_a_whole_number(tmp_path: Path):
    write(tmp_path, HEAD + '[capture]\nper_host_delay = 3\nproxy = "http://127.0.0.1:3128"\n')
    assert load_collection(tmp_path).capture_overrides == {
        "per_host_delay": 3,
        "proxy": "http://127.0.0.1:3128",
    }


def test_the_documented_example_loads(tmp_path: Path):
    text = (REPO / "docs" / "collections.md").read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "hrd-blog.pdf").write_bytes(b"%PDF-1.4\n")
    write(tmp_path, example)
    c = load_collection(tmp_path)
    assert (c.name, len(c.documents), len(c.extra_urls)) == ("safeguard-defenders", 1, 1)
    assert c.documents[0].file == tmp_path / "sources" / "hrd-blog.pdf"
    assert c.capture_overrides["respect_robots"] is False
