"""URLs cited in an HTML document's main content (navigation, footers and link lists dropped)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, NavigableString, Tag

from archiver.base.charset import decode_html
from archiver.collect.normalize import normalize_url
from archiver.collect.seeds import Finding as Citation
from archiver.collect.text import (
    urls_in_line,
)

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
    main = soup.find("main") or soup.find(role="main")
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
    value: Any = el.get("class") or []
    classes: list[str] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
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


def find_urls_in_html(
    html: bytes | str,
    base_url: str,
    document: str | None = None,
    *,
    http_charset: str | None = None,
) -> list[Citation]:
    """URLs linked from the main content of an HTML page, resolved to absolute form.

    Links in navigation, headers, footers, sidebars, forms, comments, share bars, cookie
    banners and "more stories" lists are left out; ``javascript:``, ``mailto:``, ``tel:`` and
    links to the page itself (``#section``) are skipped. Relative links resolve against
    ``<base href>``, else ``base_url``, else the page's ``<link rel=canonical>``. Bytes are
    decoded as the cleaner decodes them (``base.charset``): the HTTP charset when the caller
    knows it and the bytes fit, then BOM, ``<meta charset>``, then detection. URLs printed as
    text in the main content are found too. Repeated links are kept (see ``group_by_url``).

    Never raises: capture calls this on whatever a server sent, so broken markup yields the
    links that could be found.
    """
    document = document or base_url
    found: list[Citation] = []
    try:
        if isinstance(html, bytes | bytearray):
            html = decode_html(bytes(html), http_charset).text
        soup = BeautifulSoup(html, "lxml")
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
            _root_citations(root, base, page, document, linked, found)
    except Exception:  # noqa: BLE001 - documented contract: never raise on bad HTML
        return found
    return found


def _root_citations(
    root: Tag, base: str, page: str | None, document: str, linked: set[str], found: list[Citation]
) -> None:
    """Append the links under ``root``, then URLs printed there as text and not linked.

    Appends as it goes, so a failure part-way keeps what was found (the caller never raises).
    """
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
        for written, url, truncated in urls_in_line(line):
            if url not in linked and url != page:
                linked.add(url)
                found.append(Citation(url, written, document, document, truncated))
