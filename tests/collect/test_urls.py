"""Finding cited URLs in text, Markdown, HTML and PDF, and normalising them."""

from __future__ import annotations

import json

import pytest

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.collect.command import urls_command
from archiver.collect.documents import find_urls, group_by_url
from archiver.collect.html import find_urls_in_html
from archiver.collect.normalize import (
    _ESCAPE_OR_CHAR,
    _PATH_SAFE,
    _QUERY_SAFE,
    _UNRESERVED,
    _USERINFO_SAFE,
    _encode,
    normalize_url,
)
from archiver.collect.pdf import find_urls_in_pdf
from archiver.collect.seeds import Finding as Citation
from archiver.collect.text import find_urls_in_text
from tests.helpers import DATA

SEEDS = DATA / "seeds"
DOCS = DATA / "docs"
HRD = SEEDS / "hrd-blog-safeguard-defenders.txt"

# The 17 distinct URLs the blog page prints, checked by reading the text: (line, as printed
# without surrounding brackets, fetched URL).
HRD_EXPECTED = [
    (
        65,
        "https://ishr.ch/latest-updates/joint-civil-society-statement-on-the-fifth-anniversary-of-the-xiamen-gathering-crackdown",
        None,
    ),
    (
        67,
        "https://safeguarddefenders.com/en/blog/fifth-anniversary-xiamen-gathering-crackdown",
        None,
    ),
    (
        94,
        "https://ishr.ch/latest-updates/addressing-transnational-repression-a-global-mandate-for-justice-and-human-rights/",
        None,
    ),
    (
        96,
        "https://www.hrw.org/report/2024/02/22/we-will-find-you/global-look-how-governments-repress-nationals-abroad",
        None,
    ),
    (98, "https://www.commondreams.org/news/human-rights-watch-dissidents", None),
    (110, "https://humanrightsdefenders.blog/2022/01/18/china-goes-after-dissidents-abroad/", None),
    (116, "https://safeguarddefenders.com/en/blog/safeguard-defenders-opens-taiwan-office", None),
    (118, "https://focustaiwan.tw/politics/202205170025", None),
    (
        128,
        "https://humanrightsdefenders.blog/2018/04/12/how-china-extracts-televised-confessions-from-human-rights-defenders/",
        None,
    ),
    (
        136,
        "https://humanrightsdefenders.blog/2019/01/08/forced-television-confessions-in-china-lead-to-request-to-ban-cctv-in-uk/",
        None,
    ),
    (
        142,
        "https://humanrightsdefenders.blog/2015/07/29/the-remarkable-crackdown-on-lawyers-in-china-in-july-2015/",
        None,
    ),
    (
        148,
        "https://humanrightsdefenders.blog/2020/02/25/gui-minhai-10-years-jail-sentence-in-china/",
        None,
    ),
    (
        150,
        "https://www.france24.com/en/asia-pacific/20210411-victims-of-forced-confessions-urge-western-powers-to-ban-chinese-tv-channels",
        None,
    ),
    (
        152,
        "https://www.ndtv.com/world-news/forced-confession-victims-urge-chinese-tv-channels-ban-2411414",
        None,
    ),
    (
        170,
        "https://qz.com/1249842/swedish-human-rights-activist-peter-dahlins-first-hand-account-of-how-china-extracts-confessions-for-tv/",
        None,
    ),
    (
        172,
        "https://www.standardrepublic.com/world/world-news-chinese-language-state-tv-which-operates-in-uk-and-us-produces-chilling-compelled-confession-movies-for-brutal-regime/",
        None,
    ),
    (
        174,
        "https://asiancorrespondent.com/2018/04/threats-torture-fear-rights-group-calls-for-end-to-chinas-televised-confessions/#crKm6uQdL4vf7sJS.97",
        "https://asiancorrespondent.com/2018/04/threats-torture-fear-rights-group-calls-for-end-to-chinas-televised-confessions/",
    ),
]


# --- the seed documents ----------------------------------------------------------------------


def test_hrd_seed_finds_exactly_the_17_printed_urls_with_lines():
    citations = find_urls(HRD)
    grouped = group_by_url(citations)
    assert len(grouped) == 17
    got = [(int(c.locator.rsplit(":", 1)[1]), c.cited_as, c.url) for c in citations]
    want = [(line, written, fetched or written) for line, written, fetched in HRD_EXPECTED]
    assert got == want
    assert all(
        c.locator == f"{HRD}:{line}"
        for c, (line, _, _) in zip(citations, HRD_EXPECTED, strict=True)
    )
    assert all(c.document == str(HRD) for c in citations)


def test_hrd_seed_strips_square_brackets_and_keeps_fragment_only_in_cited_as():
    by_line = {int(c.locator.rsplit(":", 1)[1]): c for c in find_urls(HRD)}
    # Line 128 prints "[see also: https://...defenders/]".
    assert HRD.read_text(encoding="utf-8").splitlines()[127].endswith("defenders/]")
    for line in (128, 136, 142, 148):
        assert not by_line[line].cited_as.endswith("]")
        assert by_line[line].url.endswith("/")
    frag = by_line[174]
    assert frag.cited_as.endswith("#crKm6uQdL4vf7sJS.97")
    assert "#" not in frag.url


@pytest.mark.parametrize(
    "name",
    [
        "hkctu-jasic-confession-videos.txt",
        "npr-freed-labor-activists.txt",
        "wikipedia-jasic-workers-solidarity-group.txt",
    ],
)
def test_other_seeds_print_no_urls(name):
    # These texts were extracted without their hyperlinks and print no URL themselves.
    assert find_urls(SEEDS / name) == []


def test_urls_command_text_output(capsys):
    assert urls_command([HRD], as_json=False) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 17
    assert lines[0] == (
        "https://ishr.ch/latest-updates/joint-civil-society-statement-on-the-fifth-anniversary-"
        f"of-the-xiamen-gathering-crackdown\t{HRD}:65"
    )


def test_urls_command_dedupes_across_documents_and_counts(capsys, tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("first https://Example.org:443/x#one\nagain https://example.org/x.\n")
    b = tmp_path / "b.md"
    b.write_text("[link](https://example.org/x#two)\n")
    urls_command([a, b], as_json=False)
    assert capsys.readouterr().out == f"https://example.org/x\t{a}:1\t(+2 more)\n"
    urls_command([a, b], as_json=False, show_all=True)
    assert capsys.readouterr().out.splitlines() == [
        f"https://example.org/x\t{a}:1",
        f"https://example.org/x\t{a}:2",
        f"https://example.org/x\t{b}:1",
    ]


def test_urls_command_json_holds_every_citation(capsys):
    urls_command([HRD, DOCS / "notes.md"], as_json=True)
    doc = json.loads(capsys.readouterr().out)
    assert doc["documents"] == [str(HRD), str(DOCS / "notes.md")]
    urls = {u["url"]: u["citations"] for u in doc["urls"]}
    assert len(urls) == 17 + 5
    press = urls["https://example.org/press/2018-04-12.html"]
    assert [c["locator"] for c in press] == [f"{DOCS / 'notes.md'}:7", f"{DOCS / 'notes.md'}:15"]
    assert press[0]["cited_as"] == "https://example.org/press/2018-04-12.html#statement"
    assert set(press[0]) == {"url", "cited_as", "locator", "document", "truncated"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing.txt", "no such file"),
        (".", "is a folder"),
    ],
)
def test_missing_or_unreadable_document_is_a_one_line_error(tmp_path, path, message):
    target = tmp_path / path
    with pytest.raises(ArchiverError) as err:
        urls_command([target], as_json=False)
    assert str(target) in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == EXIT_USAGE


def test_binary_file_is_refused(tmp_path):
    blob = tmp_path / "photo.jpg"
    blob.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)))
    with pytest.raises(ArchiverError, match="photo.jpg: looks like a binary file"):
        find_urls(blob)


# --- plain text and Markdown -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cited_as"),
    [
        ("see https://a.org/x.", ["https://a.org/x"]),
        ("(https://a.org/x), then", ["https://a.org/x"]),
        ("[see also: https://a.org/x/]", ["https://a.org/x/"]),
        ("[https://a.org/x]", ["https://a.org/x"]),
        ("“https://a.org/q?x=1”", ["https://a.org/q?x=1"]),
        ('‘https://a.org/’ and "https://b.org/"', ["https://a.org/", "https://b.org/"]),
        ("https://en.wikipedia.org/wiki/Foo_(bar)", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        (
            "(see https://en.wikipedia.org/wiki/Foo_(bar)).",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
        ),
        (
            "[t](https://en.wikipedia.org/wiki/Foo_(bar))",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
        ),
        ('[t](https://a.org/x "Title")', ["https://a.org/x"]),
        ("<https://a.org/auto>", ["https://a.org/auto"]),
        ("[1]: https://a.org/ref", ["https://a.org/ref"]),
        ("[https://a.org](https://a.org/long)", ["https://a.org", "https://a.org/long"]),
        ("end: https://a.org/x?!;:", ["https://a.org/x"]),
        ("https://a.org/a,b;c=d", ["https://a.org/a,b;c=d"]),
        ("https://a.org/p#frag.", ["https://a.org/p#frag"]),
        ("*https://a.org/em*", ["https://a.org/em"]),
        ("see HTTPS://A.org/x", ["HTTPS://A.org/x"]),
        (
            "https://zh.wikipedia.org/wiki/佳士事件。下一句",
            ["https://zh.wikipedia.org/wiki/佳士事件"],
        ),
        ("visit www.example.org/page, now", ["www.example.org/page"]),
        ("no scheme: example.org/page or wwwx.org", []),
        ("mailto:a@b.org ftp://a.org/x javascript:x", []),
        ("https:// alone and https://.org/ and http://a..b/", []),
        ("git+https://a.org/repo", []),
    ],
)
def test_find_urls_in_text_strips_what_prose_adds(text, cited_as):
    assert [c.cited_as for c in find_urls_in_text(text, "t.txt")] == cited_as


def test_www_url_without_scheme_is_fetched_over_http():
    (c,) = find_urls_in_text("at www.Example.org/Page.", "t.txt")
    assert c.url == "http://www.example.org/Page"
    assert c.cited_as == "www.Example.org/Page"


def test_url_cut_by_ellipsis_is_marked_truncated(capsys, tmp_path):
    (c,) = find_urls_in_text("shared as https://example.org/2021/04/long-sto… on social media", "t")
    assert c.cited_as == "https://example.org/2021/04/long-sto"
    assert c.truncated
    (whole,) = find_urls_in_text("https://example.org/a … and more", "t")
    assert not whole.truncated
    doc = tmp_path / "t.txt"
    doc.write_text("https://example.org/2021/04/long-sto…\n", encoding="utf-8")
    urls_command([doc], as_json=False)
    assert capsys.readouterr().out.endswith("\t(truncated?)\n")


def test_line_numbers_follow_every_newline_convention():
    text = "a https://a.org/1\r\nb\rc https://a.org/3\n\nhttps://a.org/5"
    assert [c.locator for c in find_urls_in_text(text, "d")] == ["d:1", "d:3", "d:5"]


def test_markdown_document():
    citations = find_urls(DOCS / "notes.md")
    where = [(c.url, c.locator.rsplit(":", 1)[1]) for c in citations]
    assert where == [
        ("https://www.hrw.org/report/2024/02/22/we-will-find-you", "3"),
        ("https://en.wikipedia.org/wiki/Jasic_incident_(2018)", "4"),
        ("https://safeguarddefenders.com/en/research", "6"),
        ("https://example.org/press/2018-04-12.html", "7"),
        ("https://safeguarddefenders.com/en/research", "11"),
        ("https://example.net/mirror/~team/index.html", "12"),
        ("https://example.org/press/2018-04-12.html", "15"),
    ]
    assert citations[3].cited_as == "https://example.org/press/2018-04-12.html#statement"
    # The relative link and the mailto: link are not fetchable and are left out.
    assert len(group_by_url(citations)) == 5


def test_legacy_encoding_and_utf16_text_files(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes(
        "Rapport publié à Genève : https://exemple.org/r%C3%A9sum%C3%A9\n".encode("cp1252")
    )
    assert [c.url for c in find_urls(latin)] == ["https://exemple.org/r%C3%A9sum%C3%A9"]
    wide = tmp_path / "wide.txt"
    wide.write_text("line one\nsee https://example.org/utf16\n", encoding="utf-16")
    assert [(c.url, c.locator) for c in find_urls(wide)] == [
        ("https://example.org/utf16", f"{wide}:2")
    ]


def test_very_long_line_is_read_in_pieces_and_lines_stay_right(tmp_path):
    doc = tmp_path / "long.txt"
    with open(doc, "w", encoding="utf-8") as f:
        f.write("x " * 1_500_000 + "https://example.org/end-of-long-line\n")
        f.write("https://example.org/line-two\n")
    assert [(c.url, c.locator) for c in find_urls(doc)] == [
        ("https://example.org/end-of-long-line", f"{doc}:1"),
        ("https://example.org/line-two", f"{doc}:2"),
    ]


# --- HTML ------------------------------------------------------------------------------------

ARTICLE_URL = "https://news.example.org/2018/04/confessions/"


def test_html_keeps_article_links_and_drops_boilerplate():
    html = (DOCS / "article.html").read_bytes()
    citations = find_urls_in_html(html, ARTICLE_URL)
    assert [c.url for c in citations] == [
        "https://safeguarddefenders.com/en/scripted-and-staged",
        "https://news.example.org/2016/01/dahlin/",
        "https://www.hrw.org/news/2018/04/12/china-televised-confessions",
        "https://news.example.org/documents/report.pdf",
    ]
    assert citations[2].cited_as.endswith("#findings")
    assert all(c.locator == ARTICLE_URL and c.document == ARTICLE_URL for c in citations)


def test_html_file_resolves_relative_links_against_its_canonical_url():
    citations = find_urls(DOCS / "article.html")
    assert "https://news.example.org/2016/01/dahlin/" in [c.url for c in citations]
    assert all(c.locator == str(DOCS / "article.html") for c in citations)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        # A saved page without an .html extension, with an XML declaration first.
        (
            "page",
            b'<?xml version="1.0"?>\n<html><body><nav><a href="https://n.example/">n</a></nav>'
            b'<p><a href="https://kept.example/">k</a></p></body></html>',
            ["https://kept.example/"],
        ),
        # Markdown that talks about <html> is still read as text, line by line.
        ("notes.md", b"Use <html> tags.\nhttps://text.example/a\n", ["https://text.example/a"]),
    ],
)
def test_kind_is_sniffed_from_extension_then_content(tmp_path, name, content, expected):
    doc = tmp_path / name
    doc.write_bytes(content)
    assert [c.url for c in find_urls(doc)] == expected


def test_html_base_href_and_main_element():
    html = """<html><head><base href="https://mirror.example.net/docs/"></head><body>
    <div class="menu"><a href="/menu">menu</a></div>
    <main><p>Text <a href="a.html">A</a> <a href="https://page.example/here#top">self</a>
    <a href="tel:+1555">call</a> <a href=" javascript:void(0) ">js</a></p>
    <div role="navigation"><a href="/nav">nav</a></div>
    <ul class="social-links"><li><a href="https://t.example/share">share</a></li></ul>
    <p>Much more article text here so the social list is small by comparison.</p></main>
    <a href="https://outside-main.example/">outside</a></body></html>"""
    citations = find_urls_in_html(html, "https://page.example/here", "saved.html")
    assert [c.url for c in citations] == ["https://mirror.example.net/docs/a.html"]
    assert citations[0].locator == "saved.html"


def test_html_without_main_uses_body_minus_boilerplate_and_keeps_wrapper_divs():
    html = """<body><div id="page-sidebar-layout"><nav><a href="/n">n</a></nav>
    <p>Story text with a <a href="https://cited.example/x">citation</a>.</p>
    <div class="comments"><a href="https://spam.example/">spam</a></div></div></body>"""
    assert [c.url for c in find_urls_in_html(html, "https://site.example/story")] == [
        "https://cited.example/x"
    ]


def test_lists_of_links_are_dropped_outside_articles_but_printed_urls_are_kept():
    prose = "<p>" + "Long story text about the detentions and the trial. " * 10
    html = f"""<body><div class="content">{prose}<a href="https://cited.example/a">report</a></p>
    <ul><li><a href="/s1">Other story one</a></li><li><a href="/s2">Other story two</a></li>
    <li><a href="/s3">Other story three</a></li></ul>
    <ul><li><a href="https://p.example/1">https://p.example/1</a></li>
    <li><a href="https://p.example/2">https://p.example/2</a></li>
    <li><a href="https://p.example/3">https://p.example/3</a></li></ul></div></body>"""
    assert [c.url for c in find_urls_in_html(html, "https://site.example/story")] == [
        "https://cited.example/a",
        "https://p.example/1",
        "https://p.example/2",
        "https://p.example/3",
    ]


def test_urls_printed_as_text_in_the_content_are_found_once():
    html = """<body><nav>https://menu.example/</nav><article><p>Sources:</p>
    <p>https://ngo.example/statement#p2</p><p>[see also: https://blog.example/2018/04/12/x/]</p>
    <p><a href="https://linked.example/">https://linked.example/</a></p></article></body>"""
    citations = find_urls_in_html(html, "https://site.example/")
    assert [(c.url, c.cited_as) for c in citations] == [
        ("https://linked.example/", "https://linked.example/"),
        ("https://ngo.example/statement", "https://ngo.example/statement#p2"),
        ("https://blog.example/2018/04/12/x/", "https://blog.example/2018/04/12/x/"),
    ]


def test_a_list_of_sources_inside_an_article_is_kept():
    prose = "<p>" + "Long story text about the detentions and the trial. " * 10 + "</p>"
    html = f"""<body><article>{prose}<h2>Sources</h2><ul>
    <li><a href="https://hrw.example/report">We Will Find You</a></li>
    <li><a href="https://ngo.example/statement">Joint statement</a></li>
    <li><a href="https://news.example/story">News story</a></li></ul></article>
    <div class="more"><a href="/x">x</a></div></body>"""
    assert [c.url for c in find_urls_in_html(html, "https://site.example/story")] == [
        "https://hrw.example/report",
        "https://ngo.example/statement",
        "https://news.example/story",
    ]


def test_teaser_articles_next_to_the_main_article_are_ignored():
    story = "<p>" + "Long story text about the detentions and the trial. " * 20
    teaser = '<article><a href="/teaser{n}">Teaser {n}</a></article>'
    html = (
        f'<body><main><article>{story}<a href="https://cited.example/">src</a></p></article>'
        + "".join(teaser.format(n=n) for n in range(10))
        + "</main></body>"
    )
    assert [c.url for c in find_urls_in_html(html, "https://site.example/")] == [
        "https://cited.example/"
    ]


@pytest.mark.parametrize(
    "html",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"<a href='http://[broken'>x</a><a href=http://ok.example/>ok</a>",
        "<html><body>" + "<div>" * 5000 + "<a href='https://deep.example/'>x</a>",
        b"<a href>empty</a><a href=''>e</a><a href='%%%'>p</a>",
        "<p>unclosed <a href='https://u.example/'>link",
    ],
    ids=["empty", "binary", "bad-ipv6", "deep-nesting", "odd-hrefs", "unclosed"],
)
def test_broken_html_never_raises(html):
    citations = find_urls_in_html(html, "https://base.example/")
    assert all(isinstance(c, Citation) for c in citations)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            b"<a href='http://[broken'>x</a><p><a href=http://ok.example/ok>ok</a>",
            "http://ok.example/ok",
        ),
        (
            "<body>" + "<div class='x'>" * 3000 + "<a href='https://deep.example/'>x</a>",
            "https://deep.example/",
        ),
        (b"<p>unclosed <a href='https://u.example/'>link", "https://u.example/"),
        (
            "<html><body><p>caf\u00e9 <a href='https://\u00fc.example/\u00e9'>x</a>".encode(
                "latin-1"
            ),
            "https://xn--tda.example/%C3%A9",
        ),
    ],
    ids=["bad-ipv6-then-good", "deep-nesting", "unclosed", "latin-1-bytes"],
)
def test_broken_html_still_yields_the_good_links(html, expected):
    assert [c.url for c in find_urls_in_html(html, "https://base.example/")] == [expected]


# --- PDF -------------------------------------------------------------------------------------


def make_pdf(pages: list[tuple[list[str], str | None]]) -> bytes:
    """A minimal PDF: each page shows lines of Helvetica text and may carry one URI link."""
    body: dict[int, bytes] = {}
    kids: list[int] = []
    next_id = 4
    for lines, uri in pages:
        page_id, content_id = next_id, next_id + 1
        annot_id = next_id + 2 if uri else None
        next_id += 3 if uri else 2
        kids.append(page_id)
        ops = ["BT", "/F1 10 Tf", "14 TL", "50 750 Td"]
        for line in lines:
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({esc}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        annots = f" /Annots [{annot_id} 0 R]" if annot_id else ""
        body[page_id] = (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R{annots} >>"
        ).encode()
        body[content_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
        if annot_id:
            body[annot_id] = (
                "<< /Type /Annot /Subtype /Link /Rect [50 700 300 720] /Border [0 0 0] "
                f"/A << /S /URI /URI ({uri}) >> >>"
            ).encode()
    body[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    refs = " ".join(f"{k} 0 R" for k in kids)
    body[2] = f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>".encode()
    body[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for i in range(1, next_id):
        offsets[i] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body[i])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % next_id
    for i in range(1, next_id):
        out += b"%010d 00000 n \n" % offsets[i]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (next_id, xref)
    return bytes(out)


PDF_PAGES = [
    (["Annual report", "No links on this page."], None),
    (
        [
            "Sources: see https://example.org/report.pdf#p3 for details,",
            "and [https://example.net/a_(b)].",
        ],
        "https://links.example.com/annotated",
    ),
    (["Repeated: https://links.example.com/annotated"], "https://links.example.com/annotated"),
]


def test_pdf_text_urls_and_link_annotations_with_page_locators():
    citations = find_urls_in_pdf(make_pdf(PDF_PAGES), "report.pdf")
    assert [(c.url, c.cited_as, c.locator) for c in citations] == [
        (
            "https://links.example.com/annotated",
            "https://links.example.com/annotated",
            "report.pdf:page 2",
        ),
        (
            "https://example.org/report.pdf",
            "https://example.org/report.pdf#p3",
            "report.pdf:page 2",
        ),
        ("https://example.net/a_(b)", "https://example.net/a_(b)", "report.pdf:page 2"),
        (
            "https://links.example.com/annotated",
            "https://links.example.com/annotated",
            "report.pdf:page 3",
        ),
    ]


def test_pdf_file_is_sniffed_by_content(tmp_path):
    doc = tmp_path / "download"  # no extension, as browsers often save
    doc.write_bytes(make_pdf(PDF_PAGES))
    assert {c.locator for c in find_urls(doc)} == {f"{doc}:page 2", f"{doc}:page 3"}


def test_unreadable_pdf_is_a_one_line_error(tmp_path):
    doc = tmp_path / "broken.pdf"
    doc.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(ArchiverError) as err:
        find_urls(doc)
    assert str(err.value).startswith(f"{doc}: not a readable PDF")
    assert "\n" not in str(err.value)


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://bücher.example/katalog", "https://xn--bcher-kva.example/katalog"),
        ("https://XN--BCHER-KVA.example/", "https://xn--bcher-kva.example/"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("http://example.org/%7euser/", "http://example.org/~user/"),
        ("http://example.org/~user/", "http://example.org/~user/"),
        ("HTTPS://WWW.Example.ORG/Path/To", "https://www.example.org/Path/To"),
        ("https://example.org./a", "https://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/a#frag", "https://example.org/a"),
        ("https://example.org/?b=2&a=1&b=1", "https://example.org/?b=2&a=1&b=1"),
        ("https://example.org/a b", "https://example.org/a%20b"),
        ("https://example.org/caf%c3%a9", "https://example.org/caf%C3%A9"),
        ("https://example.org/café", "https://example.org/caf%C3%A9"),
        ("https://example.org/%E2%80%9Cq%E2%80%9D", "https://example.org/%E2%80%9Cq%E2%80%9D"),
        ("https://example.org/100%", "https://example.org/100%25"),
        ("https://example.org/a%2Fb?x=%2f", "https://example.org/a%2Fb?x=%2F"),
        ("https://example.org/a/./b/../c", "https://example.org/a/c"),
        ("https://example.org/q?x=[1]", "https://example.org/q?x=%5B1%5D"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("  https://example.org/x  ", "https://example.org/x"),
        ("https://exa\nmple.org/x", "https://example.org/x"),
    ],
)
def test_normalize_url(raw, normal):
    assert normalize_url(raw) == normal
    assert normalize_url(normal) == normal  # idempotent: never double-encodes


@pytest.mark.parametrize(
    "raw",
    [
        "ftp://example.org/x",
        "mailto:a@example.org",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "http:///path",
        "https://example.org:99999/",
        "https://example.org:port/",
        "http://[::1/",
        "https://exa mple.org/",
        "https://ex\x00ample.org/",
        "relative/path",
        "",
    ],
)
def test_normalize_url_refuses_what_cannot_be_fetched(raw):
    assert normalize_url(raw) is None


@pytest.mark.parametrize(
    "component",
    ["/page/1.html", "a=1&b=[2]", "/~u/%7e/%zz/100%", "/café/ü", "/a b", "", "user:pw", "/%2F"],
)
@pytest.mark.parametrize("safe", [_PATH_SAFE, _QUERY_SAFE, _USERINFO_SAFE])
def test_encoding_shortcut_gives_what_escaping_char_by_char_gives(component, safe):
    """A component with nothing to encode is returned at once: the same as the escaper gives."""

    def one(m):
        if m.group(1) is not None:
            ch = chr(int(m.group(1), 16))
            return ch if ch in _UNRESERVED else "%" + m.group(1).upper()
        ch = m.group(0)
        return ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode("utf-8"))

    assert _encode(component, safe) == _ESCAPE_OR_CHAR.sub(one, component)


@pytest.mark.parametrize("char", [*map(chr, range(0x20)), "\x7f"])
def test_every_control_character_is_refused(char):
    expected = "https://example.org/ab" if char in "\t\n\r" else None  # as browsers drop them
    assert normalize_url(f"https://example.org/a{char}b") == expected


def test_normalize_url_same_resource_written_differently_dedupes():
    forms = [
        "HTTP://Example.ORG:80/%7Euser/index.html#top",
        "http://example.org./~user/index.html",
        "http://example.org/~user/./index.html",
    ]
    citations = [c for f in forms for c in find_urls_in_text(f, "d")]
    (group,) = group_by_url(citations)
    assert group.url == "http://example.org/~user/index.html"
    assert len(group.citations) == 3


def test_pdf_with_an_unreadable_page_names_the_page():
    data = make_pdf([(["p1 https://a.example/"], None), (["p2"], None)])
    broken = data.replace(b"/Kids [4 0 R 6 0 R]", b"/Kids [4 0 R 3 0 R]")  # page 2 -> a font
    assert broken != data
    with pytest.raises(ArchiverError, match=r"^x\.pdf: page 2 cannot be read"):
        find_urls_in_pdf(broken, "x.pdf")
