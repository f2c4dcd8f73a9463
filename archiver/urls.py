"""Find the URLs a document cites, so a run captures exactly what the researcher relied on.

Plain text, Markdown, HTML and PDF are read; each URL found becomes a ``Citation`` that keeps
the text as written (``cited_as``, fragment included, so a reader can find the passage) next to
the normalised URL that is fetched (``url``, fragment removed, since servers never see it).

Two parts are written by hand, on purpose:

* Finding URLs in prose. No installed library handles what citations look like: URLs wrapped in
  ``[...]``, curly quotes, CJK punctuation, Markdown ``[text](url)``, Wikipedia paths with
  balanced parentheses, and display-shortened URLs ending in ``…``; and we need line numbers.
  (linkify-it-py is not installed and also links bare domains and e-mail addresses.)
* Normalising. ``urllib3.util.parse_url`` re-encodes *every* ``%`` once one stray ``%`` is
  present (``%7e`` becomes ``%257E``), keeps default ports and trailing dots, and never decodes
  unreserved escapes; ``urllib.parse`` does no encoding at all. The rules here are RFC 3986
  section 6.2.2 (case, percent-encoding, dot segments) plus section 6.2.3 (default port,
  empty path), with ``idna`` (UTS #46) for international host names.
"""

from __future__ import annotations

import codecs
import ctypes
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import idna
from bs4 import BeautifulSoup, NavigableString, Tag

from archiver.base.errors import EXIT_USAGE, ArchiverError

__all__ = [
    "Citation",
    "CitedUrl",
    "find_urls",
    "find_urls_in_html",
    "find_urls_in_pdf",
    "find_urls_in_text",
    "group_by_url",
    "normalize_url",
    "urls_command",
]


@dataclass(frozen=True)
class Citation:
    """One place where a document cites a URL."""

    url: str  # normalised, fragment removed: what gets fetched
    cited_as: str  # as written (brackets and punctuation stripped), fragment kept
    locator: str  # "file:line", "file:page N" (PDF), or the page URL / file (HTML)
    document: str  # the citing document's path or URL
    truncated: bool = False  # written with a trailing "…": the URL was probably shortened


@dataclass(frozen=True)
class CitedUrl:
    """A distinct URL and every place it was cited, in the order found."""

    url: str
    citations: tuple[Citation, ...]


# --------------------------------------------------------------------------------------------
# Normalisation

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_SAFE = frozenset(_PATH_SAFE | set("?"))
_USERINFO_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":"))
_ESCAPE_OR_CHAR = re.compile(r"%([0-9A-Fa-f]{2})|.", re.DOTALL)
_ASCII_HOST = re.compile(r"[a-z0-9._-]+")
_TAB_NEWLINE = re.compile(r"[\t\n\r]")


def _encode(component: str, safe: frozenset[str]) -> str:
    """Percent-encode what must be, without double-encoding existing escapes.

    Escapes of unreserved characters are decoded (``%7e`` -> ``~``), other escapes are kept
    with upper-case hex, a ``%`` that starts no escape becomes ``%25``.
    """

    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            ch = chr(int(m.group(1), 16))
            return ch if ch in _UNRESERVED else "%" + m.group(1).upper()
        ch = m.group(0)
        if ch in safe:
            return ch
        return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))

    return _ESCAPE_OR_CHAR.sub(repl, component)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so ``/a/./b/../c`` and ``/a/c`` are one URL."""
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _normalize_host(host: str) -> str | None:
    host = host.rstrip(".")
    if not host:
        return None
    if ":" in host:  # IPv6 literal (urlsplit already removed the brackets)
        return f"[{host.lower()}]"
    if host.isascii():
        host = host.lower()
        labels_ok = ".." not in host and not host.startswith(".")
        return host if _ASCII_HOST.fullmatch(host) and labels_ok else None
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def normalize_url(url: str) -> str | None:
    """The form of ``url`` to fetch and to deduplicate by, or None if it cannot be fetched.

    Lower-cases scheme and host, IDNA-encodes the host, drops a trailing dot, the default port
    and the fragment, percent-encodes what must be encoded (never twice), removes dot segments
    and keeps the path's case and the query's order. Only ``http`` and ``https`` are accepted.
    """
    url = _TAB_NEWLINE.sub("", url.strip())  # as browsers do for hrefs broken over lines
    if not url or any(ord(c) < 0x20 or c == "\x7f" for c in url):
        return None
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return None
        hostname = parts.hostname
        port = parts.port
    except ValueError:  # bad IPv6 literal or non-numeric / out-of-range port
        return None
    if not hostname:
        return None
    host = _normalize_host(hostname)
    if host is None:
        return None
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{_encode(userinfo, _USERINFO_SAFE)}@{netloc}"
    path = _remove_dot_segments(_encode(parts.path, _PATH_SAFE)) or "/"
    query = _encode(parts.query, _QUERY_SAFE)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


# --------------------------------------------------------------------------------------------
# Plain text and Markdown

# Characters that end a URL in prose. Besides whitespace and the delimiters RFC 3986 appendix C
# names (<>"`), curly quotes, the ellipsis and full-width CJK punctuation never occur in the
# URLs people cite, but often sit right next to them.
_STOP = '\\s<>"`|\u2026\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u201a\u200b-\u200d\ufeff' + (
    "\u3002\uff0c\u3001\uff1b\uff1a\uff01\uff1f\uff08\uff09\u3010\u3011\u300c\u300d\u300e\u300f"
    "\u300a\u300b\u3008\u3009"
)
_CANDIDATE = re.compile(
    rf"(?:(?<![\w+.-])[Hh][Tt][Tt][Pp][Ss]?://|(?<![\w.@/:%-])[Ww][Ww][Ww]\.)[^{_STOP}]*"
)
_TRAILING_PUNCT = ".,;:!?*'"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MAX_LINE = 1 << 20  # read long lines in pieces so memory stays bounded


def _trim(candidate: str) -> str:
    """Strip what prose put around a URL: trailing punctuation and unbalanced closers."""
    cut = candidate.find("](")  # Markdown "[https://label](https://target)"
    if cut != -1:
        candidate = candidate[: cut + 1]
    while candidate:
        last = candidate[-1]
        unbalanced = last in _PAIRS and candidate.count(last) > candidate.count(_PAIRS[last])
        if last not in _TRAILING_PUNCT and not unbalanced:
            break
        candidate = candidate[:-1]
    return candidate


def _scan_line(line: str) -> Iterator[tuple[str, bool]]:
    """Yield (URL as written, truncated) for each URL in one line of prose."""
    pos = 0
    while m := _CANDIDATE.search(line, pos):
        written = _trim(m.group(0))
        end = m.start() + len(written)
        pos = max(end, m.start() + 1)
        truncated = end == m.end() and line.startswith("\u2026", end)
        yield written, truncated


def _urls_in_line(line: str) -> Iterator[tuple[str, str, bool]]:
    """Yield (as written, normalised URL, truncated) for each fetchable URL in a line of prose."""
    for written, truncated in _scan_line(line):
        # "www." without a scheme: http://, which every server answers; a site that only
        # serves HTTPS redirects, and the capture records that redirect.
        bare_www = "://" not in written[:8]
        url = normalize_url("http://" + written if bare_www else written)
        if url is None or (bare_www and "." not in url.split("/")[2]):
            continue
        yield written, url, truncated


def _citations_from_lines(
    lines: Iterable[tuple[int, str]], document: str, where: str
) -> Iterator[Citation]:
    for number, line in lines:
        for written, url, truncated in _urls_in_line(line):
            yield Citation(url, written, f"{where}:{number}", document, truncated)


def find_urls_in_text(text: str, document: str) -> list[Citation]:
    """Every URL cited in plain text or Markdown, in order, with ``document:line`` locators.

    Bare URLs, ``<...>`` autolinks, ``[text](url)`` and reference definitions (``[1]: url``)
    all reduce to "a URL followed by punctuation", which ``_trim`` removes. Repeats are kept:
    use ``group_by_url`` to deduplicate.
    """
    numbered = enumerate(_LINE_BREAK.split(text), start=1)
    return list(_citations_from_lines(numbered, document, document))


# --------------------------------------------------------------------------------------------
# HTML

# Elements that never hold the page's own citations.
_DROP_TAGS = ("nav", "header", "footer", "aside", "script", "style", "noscript", "template")
_DROP_ROLES = frozenset(
    ("navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "search")
)
# class/id words marking menus, breadcrumbs, share bars, comments, cookie banners, sidebars,
# bylines and "related"/"trending" teaser lists.
_BOILERPLATE_WORD = re.compile(
    r"(?:^|[-_\s])(?:nav|navbar|navigation|menu|menubar|breadcrumbs?|share|sharing|sharedaddy"
    r"|social|comments?|respond|cookies?|consent|gdpr|sidebar|widgets?|masthead|footer|header"
    r"|related|recirc|trending|popular|recommended|pagination|pager|skip-link|subscribe"
    r"|newsletter|ads?|advert|advertisement|promo|byline|author|tags?)"
    r"(?:$|[-_\s])",
    re.IGNORECASE,
)
_PROTECTED = frozenset({"html", "body", "main", "article"})
_PRINTED_URL = re.compile(r"\s*(?:https?://|www\.)", re.IGNORECASE)
_LINK_LIST_MIN_LINKS = 3
_LINK_LIST_DENSITY = 0.8  # share of an element's text that is link text: a list of links


@dataclass
class _Size:
    """Text under an element, and how much of it is the text of navigational links."""

    text: int = 0
    link_text: int = 0
    links: int = 0


def _text_sizes(root: Tag) -> dict[int, _Size]:
    """``_Size`` of every element under ``root``, in one iterative pass (deep markup is fine).

    A link whose text is itself a URL is a printed citation, not navigation: it counts as text.
    """
    sizes: dict[int, _Size] = {}
    stack: list[tuple[Tag, bool]] = [(root, False)]
    while stack:
        el, children_done = stack.pop()
        if not children_done:
            stack.append((el, True))
            stack.extend((c, False) for c in el.contents if isinstance(c, Tag))
            continue
        size = _Size()
        if el.name not in _DROP_TAGS:
            for c in el.contents:
                if isinstance(c, Tag):
                    child = sizes[id(c)]
                    size.text += child.text
                    size.link_text += child.link_text
                    size.links += child.links
                elif type(c) is NavigableString:
                    size.text += len(c.strip())
        if el.name == "a" and el.get("href") and not _PRINTED_URL.match(el.get_text()):
            size.link_text, size.links = size.text, size.links + 1
        sizes[id(el)] = size
    return sizes


def _content_roots(soup: BeautifulSoup) -> list[Tag]:
    """The page's main content: its ``<article>``s, else ``<main>``, else ``<body>``.

    Articles are looked for inside ``<main>`` when there is one. Articles much smaller than the
    largest are teasers ("more stories"), and articles holding a small share of the text are
    teasers in a sidebar: neither is the content.
    """
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    body = soup.find("body")
    scope = main if isinstance(main, Tag) else body if isinstance(body, Tag) else soup
    articles = [a for a in scope.find_all("article") if a.find_parent("article") is None]
    if articles:
        sizes = _text_sizes(scope)
        largest = max(sizes[id(a)].text for a in articles)
        kept = [a for a in articles if sizes[id(a)].text * 10 >= largest]
        if sum(sizes[id(a)].text for a in kept) * 4 >= sizes[id(scope)].text:
            return kept
    return [scope]


def _is_boilerplate(el: Tag, sizes: dict[int, _Size], root_size: int, *, link_lists: bool) -> bool:
    if el.name in _DROP_TAGS:
        return True
    if el.name in _PROTECTED:
        return False
    if str(el.get("role") or "").strip().lower() in _DROP_ROLES:
        return True
    size = sizes[id(el)]
    classes = el.get("class") or []
    classes = classes if isinstance(classes, list) else [classes]
    words = " ".join([*classes, str(el.get("id") or "")])
    marked = (
        el.name == "form"
        or bool(words.strip() and _BOILERPLATE_WORD.search(words))
        or (
            link_lists
            and size.links >= _LINK_LIST_MIN_LINKS
            and size.link_text >= _LINK_LIST_DENSITY * size.text
        )
    )
    # A class name can sit on a wrapper around the whole page (so can an ASP.NET <form>), and
    # a page can be a list of links: drop only what holds at most half of the content's text.
    return marked and size.text * 2 <= root_size


def _drop_boilerplate(root: Tag) -> None:
    """Remove boilerplate under ``root``, walking iteratively (deep markup must not recurse).

    Lists of links ("more stories") are dropped only outside ``<article>``: inside one, a list
    of links is as likely to be the article's sources, which are what we are here for.
    """
    link_lists = root.name != "article"
    sizes = _text_sizes(root)
    root_size = sizes[id(root)].text
    stack = [c for c in root.contents if isinstance(c, Tag)]
    while stack:
        el = stack.pop()
        if _is_boilerplate(el, sizes, root_size, link_lists=link_lists):
            el.decompose()
        else:
            stack.extend(c for c in el.contents if isinstance(c, Tag))


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _decode_html(data: bytes) -> str:
    """Decode HTML bytes: BOM, strict UTF-8, ``<meta charset>``, then charset-normalizer.

    Done here because BeautifulSoup's own guessing falls back to chardet, which is pure Python
    and took 70% of the time on real pages.
    """
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(name, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    m = _META_CHARSET.search(data[:4096])
    if m:
        try:
            return data.decode(codecs.lookup(m.group(1).decode("ascii")).name, "replace")
        except LookupError:
            pass
    # No declaration: guess from a sample big enough to guess from, else windows-1252, the
    # default the WHATWG encoding standard gives browsers for undeclared pages.
    encoding = "cp1252"
    if len(data) >= 1024:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
        encoding = best.encoding if best is not None else encoding
    return data.decode(encoding, "replace")


def find_urls_in_html(
    html: bytes | str, base_url: str, document: str | None = None
) -> list[Citation]:
    """URLs linked from the main content of an HTML page, resolved to absolute form.

    Links in navigation, headers, footers, sidebars, forms, comments, share bars, cookie
    banners and "more stories" lists are left out; ``javascript:``, ``mailto:``, ``tel:`` and
    links to the page itself (``#section``) are skipped. Relative links resolve against
    ``<base href>``, else ``base_url``, else the page's ``<link rel=canonical>``. Bytes are
    decoded by BOM, UTF-8, ``<meta charset>``, then a guess; a caller that knows the HTTP
    charset should decode and pass ``str``. URLs printed as text in the main content are found
    too. Repeated links are kept (see ``group_by_url``).

    Never raises: capture calls this on whatever a server sent, so broken markup yields the
    links that could be found.
    """
    document = document or base_url
    found: list[Citation] = []
    try:
        text = _decode_html(html) if isinstance(html, bytes | bytearray) else html
        soup = BeautifulSoup(text, "lxml")
        base = base_url or ""
        page = normalize_url(base)
        if page is None:  # a saved page: its canonical URL says where it came from
            canonical = soup.find("link", rel="canonical", href=True)
            if isinstance(canonical, Tag):
                page = normalize_url(str(canonical["href"]))
                base = str(canonical["href"]).strip() if page else base
        base_tag = soup.find("base", href=True)
        if isinstance(base_tag, Tag):
            base = urljoin(base, str(base_tag["href"]).strip())
        linked: set[str] = set()
        for root in _content_roots(soup):
            _drop_boilerplate(root)
            for a in root.find_all(["a", "area"], href=True):
                href = str(a["href"]).strip()
                if not href or href.startswith("#"):
                    continue
                try:
                    absolute = urljoin(base, href)
                except ValueError:
                    continue
                url = normalize_url(absolute)
                if url is None or url == page:
                    continue
                linked.add(url)
                found.append(Citation(url, absolute, document, document))
            # URLs printed as text and not linked (blogs often print their sources so).
            for line in root.get_text("\n").splitlines():
                for written, url, truncated in _urls_in_line(line):
                    if url not in linked and url != page:
                        linked.add(url)
                        found.append(Citation(url, written, document, document, truncated))
    except Exception:  # noqa: BLE001 - documented contract: never raise on bad HTML
        return found
    return found


# --------------------------------------------------------------------------------------------
# PDF


def _pdf_link_uris(pdf: object, page: object) -> Iterator[str]:
    """URI actions of the page's link annotations (pypdfium2 has no helper for these)."""
    import pypdfium2.raw as pdfium_c

    pos = ctypes.c_int(0)
    link = pdfium_c.FPDF_LINK()
    while pdfium_c.FPDFLink_Enumerate(page, ctypes.byref(pos), ctypes.byref(link)):
        action = pdfium_c.FPDFLink_GetAction(link)
        if not action or pdfium_c.FPDFAction_GetType(action) != pdfium_c.PDFACTION_URI:
            continue
        size = pdfium_c.FPDFAction_GetURIPath(pdf, action, None, 0)
        if size <= 1:
            continue
        buf = ctypes.create_string_buffer(size)
        pdfium_c.FPDFAction_GetURIPath(pdf, action, buf, size)
        yield buf.value.decode("utf-8", "replace")


def _pdf_citations(source: bytes | Path, document: str) -> list[Citation]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise ArchiverError(
            f"{document}: not a readable PDF ({exc}); check the file or give its URL instead",
            EXIT_USAGE,
        ) from None
    found: list[Citation] = []
    try:
        for index in range(len(pdf)):
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                raise ArchiverError(
                    f"{document}: page {index + 1} cannot be read ({exc}); "
                    "repair the PDF (e.g. print it to a new PDF) and try again",
                    EXIT_USAGE,
                ) from None
            where = f"{document}:page {index + 1}"
            seen: set[str] = set()
            for uri in _pdf_link_uris(pdf, page):
                url = normalize_url(uri)
                if url is not None and url not in seen:
                    seen.add(url)
                    found.append(Citation(url, uri.strip(), where, document))
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            for c in find_urls_in_text(text, document):
                if c.url not in seen:
                    seen.add(c.url)
                    found.append(Citation(c.url, c.cited_as, where, document, c.truncated))
    finally:
        pdf.close()
    return found


def find_urls_in_pdf(data: bytes, document: str) -> list[Citation]:
    """URLs in a PDF's link annotations and page text, located as ``document:page N``.

    A URL both linked and printed on one page is reported once for that page. Raises
    ``ArchiverError`` if the bytes are not a PDF pdfium can open.
    """
    return _pdf_citations(data, document)


# --------------------------------------------------------------------------------------------
# Files


_TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown", ".rst", ".org"})
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".shtml"})


def _sniff(path: Path, head: bytes) -> str:
    """ "pdf", "html", "text" or "binary": by extension first, else by the first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".pdf" or head.startswith(b"%PDF-"):
        return "pdf"
    if suffix in _HTML_SUFFIXES:
        return "html"
    if suffix in _TEXT_SUFFIXES:
        return "text"
    if b"%PDF-" in head[:1024]:  # some PDFs have junk before the header; pdfium accepts it
        return "pdf"
    start = head[:1024].lower()
    if b"<!doctype html" in start or b"<html" in start:
        return "html"
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "binary"
    return "text"


def _text_encoding(head: bytes) -> str:
    """UTF-8 (the usual case, BOM allowed), else what charset-normalizer guesses."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sample
            return "utf-8-sig"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    return best.encoding if best is not None else "utf-8"


def _numbered_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, text) pairs, reading at most ``_MAX_LINE`` characters at a time."""
    number = 1
    with open(path, encoding=encoding, errors="replace", newline=None) as f:
        while piece := f.readline(_MAX_LINE):
            yield number, piece
            if piece.endswith("\n"):
                number += 1


def find_urls(path: Path | str) -> list[Citation]:
    """Every URL cited in the file at ``path``: PDF, HTML, Markdown or plain text.

    The kind is chosen by content (``%PDF-``, ``<html``) and extension. Raises
    ``ArchiverError`` naming the file (as given: a ``str`` stays unnormalised) if it is
    missing, unreadable or binary.
    """
    name = str(path)
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except FileNotFoundError:
        raise ArchiverError(f"{name}: no such file; check the path", EXIT_USAGE) from None
    except IsADirectoryError:
        raise ArchiverError(f"{name}: is a folder; give the document files", EXIT_USAGE) from None
    except OSError as exc:
        raise ArchiverError(
            f"{name}: cannot be read ({exc.strerror}); check its permissions", EXIT_USAGE
        ) from None
    kind = _sniff(path, head)
    if kind == "pdf":
        return _pdf_citations(path, name)
    if kind == "html":
        return find_urls_in_html(path.read_bytes(), "", name)
    if kind == "binary":
        raise ArchiverError(
            f"{name}: looks like a binary file, not text, Markdown, HTML or PDF; "
            "give the document itself",
            EXIT_USAGE,
        )
    return list(_citations_from_lines(_numbered_lines(path, _text_encoding(head)), name, name))


def group_by_url(citations: Iterable[Citation]) -> list[CitedUrl]:
    """Deduplicate by normalised URL, keeping every citation, in order of first appearance."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.url, []).append(c)
    return [CitedUrl(url, tuple(cs)) for url, cs in groups.items()]


def urls_command(paths: list[Path | str], *, as_json: bool, show_all: bool = False) -> int:
    """``archiver urls DOC...``: print each distinct URL with where it was cited.

    Text output: ``URL<TAB>first locator`` plus ``(+N more)`` when cited again, or one line
    per citation with ``show_all``. JSON output holds every citation.
    """
    for path in paths:
        given = str(path)
        if urlsplit(given).scheme.lower() in ("http", "https") and not Path(given).exists():
            raise ArchiverError(
                f"{given}: is a URL; archiver urls reads local documents. To capture a URL and "
                f"what it links to, use `archiver run {given}`",
                EXIT_USAGE,
            )
    citations: list[Citation] = []
    for path in paths:
        citations.extend(find_urls(path))
    grouped = group_by_url(citations)
    out = sys.stdout
    if as_json:
        doc = {
            "documents": [str(p) for p in paths],
            "urls": [
                {"url": g.url, "citations": [asdict(c) for c in g.citations]} for g in grouped
            ],
        }
        json.dump(doc, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return 0
    for g in grouped:
        shown = g.citations if show_all else g.citations[:1]
        for c in shown:
            more = len(g.citations) - 1
            extra = f"\t(+{more} more)" if more and not show_all else ""
            flag = "\t(truncated?)" if c.truncated else ""
            out.write(f"{g.url}\t{c.locator}{extra}{flag}\n")
    return 0
