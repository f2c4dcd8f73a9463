"""Main-content link extraction: archiver.collect.html.find_urls_in_html vs trafilatura links.

Input: the 128 pages of bench/data/extract-bench-dev (HTML + ground-truth articleBody).
Quality proxy: a link counts as "in the article" when its anchor text (>= 4 chars) occurs in
the ground-truth article body. Prints time and the proxy for both, and the ratios.
"""

import gzip
import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import trafilatura
from bs4 import BeautifulSoup
from lxml import etree

from archiver.collect import documents as U

DATA = Path(sys.argv[1])
gt = json.loads((DATA / "ground-truth.json").read_text())
ws = re.compile(r"\s+")


def norm(s):
    return ws.sub(" ", s).strip().lower()


def ours_anchor_texts(html, base):
    soup = BeautifulSoup(html, "lxml")
    out = []
    for root in U._content_roots(soup):
        U._drop_boilerplate(root)
        for a in root.find_all(["a", "area"], href=True):
            href = str(a["href"]).strip()
            if not href or href.startswith("#"):
                continue
            u = U.normalize_url(urljoin(base, href))
            if u and u != U.normalize_url(base):
                out.append(norm(a.get_text(" ")))
    return out


def peer_links(html, base):
    xml = trafilatura.extract(
        html, url=base, include_links=True, output_format="xml", include_comments=False
    )
    if not xml:
        return []
    root = etree.fromstring(xml.encode())
    return [(r.get("target"), norm("".join(r.itertext()))) for r in root.iter("ref")]


t_ours = t_peer = 0.0
stats = {"ours": [0, 0], "peer": [0, 0]}
for key, item in gt.items():
    html = gzip.decompress((DATA / "html" / f"{key}.html.gz").read_bytes())
    body = norm(item["articleBody"])
    base = item["url"]
    t = time.perf_counter()
    found = U.find_urls_in_html(html, base)
    t_ours += time.perf_counter() - t
    t = time.perf_counter()
    plinks = peer_links(html.decode("utf-8", "replace"), base)
    t_peer += time.perf_counter() - t
    for name, texts in (("ours", ours_anchor_texts(html, base)), ("peer", [x for _, x in plinks])):
        for tx in texts:
            if len(tx) >= 4:
                stats[name][0] += 1
                stats[name][1] += tx in body
n = len(gt)
for name in ("ours", "peer"):
    total, hit = stats[name]
    print(f"{name}: {total} links with anchor text, {hit} in article body ({hit / total:.1%})")
print(
    f"time ours {t_ours:.2f}s, peer (trafilatura.extract include_links) {t_peer:.2f}s, "
    f"ratio peer/ours {t_peer / t_ours:.2f}x, pages {n}"
)
