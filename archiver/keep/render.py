"""A change report as JSON, plain text and one self-contained HTML page.

URLs and texts come from pages other people control, so the HTML escapes every value, embeds no
script and references nothing over the network: its only links are relative paths to the text
files inside the bags, and only http(s) URLs are ever shown as text, never as links.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from archiver.keep.compare import CLASSES, Change, Side, path_in_bag
from archiver.keep.runs import RunBag
from archiver.keep.witnessview import witnesses_html, witnesses_json, witnesses_text

TIMELINE_RUNS = 20  # the newest runs shown in each URL's timeline


def side_json(side: Side | None) -> dict[str, Any] | None:
    if side is None:
        return None
    e = side.entry
    responses = e.response_refs()
    return {
        "run": side.bag.name,
        "started": e.started,
        "outcome": e.outcome,
        "status": e.status,
        "final_url": e.final_url,
        "error": e.error.cls if e.error else None,
        "payload_sha256": e.payload_sha256,
        "text": path_in_bag(side),
        "text_sha256": side.text.sha256 if side.text else None,
        "record_id": responses[-1].record_id if responses else None,
    }


def report_json(bags: list[RunBag], base: RunBag | None, changes: list[Change]) -> dict[str, Any]:
    counts = {c: 0 for c in CLASSES}
    for ch in changes:
        counts[ch.cls] += 1
    return {
        "collection_runs": [b.name for b in bags],
        "latest": bags[-1].name,
        "since": base.name if base else None,
        "counts": counts,
        "alarming": sum(1 for ch in changes if ch.alarm),
        "urls": [
            {
                "url": ch.url,
                "class": ch.cls,
                "reason": ch.reason,
                "alarm": ch.alarm,
                "before": side_json(ch.before),
                "after": side_json(ch.after),
                "diff": ch.diff,
                "third_party": witnesses_json(ch),
            }
            for ch in changes
        ],
    }


def report_text(data: dict[str, Any]) -> str:
    """One line per URL that is not unchanged, then the counts."""
    base = data["since"] or "each URL’s previous capture"
    lines = [f"latest run {data['latest']}, compared with {base}"]
    for u in data["urls"]:
        if u["class"] != "unchanged":
            lines.append(f"{u['class']:<21} {_printable(u['url'])}  ({_printable(u['reason'])})")
            lines.extend(_printable(line) for line in witnesses_text(u.get("third_party")))
    counts = ", ".join(f"{n} {c}" for c, n in data["counts"].items() if n)
    lines.append(f"{len(data['urls'])} URLs: {counts or 'none'}")
    return "\n".join(lines) + "\n"


def _printable(text: str) -> str:
    """No terminal control characters from hostile input."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


_STYLE = (
    "body{font:15px/1.4 sans-serif;max-width:70em;margin:1em auto;padding:0 1em}"
    "code{font-size:85%;word-break:break-all}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
    ".alarm{color:#a00}del{background:#fdd}ins{background:#dfd}"
)


def report_html(data: dict[str, Any], changes: list[Change], bags: list[RunBag], here: Path) -> str:
    """The page; ``here`` is the folder the HTML file goes to (links are relative to it)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">",
        f"<title>Change report {e(data['latest'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Change report: {e(data['latest'])}</h1>",
        f"<p>Compared with {e(data['since'] or 'each URL’s previous capture')}. ",
        ", ".join(f"{n} {e(c)}" for c, n in data["counts"].items() if n) + ".</p>",
    ]
    timelines = [
        (bag, bag.timeline(), _rel(bag.path / "data", here)) for bag in bags[-TIMELINE_RUNS:]
    ]
    for ch in changes:
        parts.append(_url_section(ch, timelines, here))
    parts.append("</body></html>\n")
    return "".join(parts)


Timelines = list[tuple[RunBag, dict[str, dict[str, Any]], str]]


def _rel(target: Path, here: Path) -> str:
    return Path(os.path.relpath(target, here)).as_posix()


def _url_section(ch: Change, timelines: Timelines, here: Path) -> str:
    e = html.escape
    mark = " class='alarm'" if ch.alarm else ""
    out = [
        f"<section><h2{mark}>{e(ch.cls)}: <code>{e(ch.url)}</code></h2><p>{e(ch.reason)}</p>",
        "<table><tr><th>run</th><th>outcome</th><th>status</th><th>final URL</th>"
        "<th>payload SHA-256</th><th>text</th><th>record</th></tr>",
    ]
    for bag, rows, data_dir in timelines:
        row = rows.get(ch.url)
        if row is not None:
            out.append(_timeline_row(bag, row, data_dir, here))
    out.append("</table>")
    out.append(witnesses_html(witnesses_json(ch)))
    if ch.diff:
        out.append(_diff_html(ch.diff))
    out.append("</section>")
    return "".join(out)


def _timeline_row(bag: RunBag, j: dict[str, Any], data_dir: str, here: Path) -> str:
    """One capture of the timeline; ``data_dir`` is the bag's data/ relative to ``here``."""
    e = html.escape
    text = "none"
    if j["text"] is not None:
        plain = ".." not in j["text"] and not j["text"].startswith("/")
        path = f"{data_dir}/{j['text']}" if plain else _rel(bag.path / "data" / j["text"], here)
        rel = quote(path)
        text = f"<a href='{e(rel)}'>text</a> <code>{e(str(j['text_sha256']))}</code>"
    cells = [
        e(bag.name),
        e(str(j["outcome"])) + (f" ({e(str(j['error']))})" if j["error"] else ""),
        e(str(j["status"] or "")),
        f"<code>{e(str(j['final_url'] or ''))}</code>",
        f"<code>{e(str(j['payload_sha256'] or ''))}</code>",
        text,
        f"<code>{e(str(j['record_id'] or ''))}</code>",
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _diff_html(diff: dict[str, Any]) -> str:
    e = html.escape
    out = [f"<p>{diff['added']} words added, {diff['removed']} removed.</p><ul>"]
    for h in diff["hunks"]:
        out.append(
            f"<li>…{e(h['context'])} <del>{e(h['removed'])}</del> <ins>{e(h['added'])}</ins></li>"
        )
    out.append("</ul>")
    if diff["hunks_omitted"]:
        out.append(f"<p>{diff['hunks_omitted']} more changes not shown.</p>")
    return "".join(out)
