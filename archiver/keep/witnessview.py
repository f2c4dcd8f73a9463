"""Third-party witnesses in a change report: other archives' copies, shown apart from ours.

A witness is an archive's claim that it holds a memento of a URL we could not capture; a
captured memento is our capture of *their* copy. Both are labelled as third-party in every
output so neither is ever read as our own capture of the URL (docs/witnesses.md).
"""

from __future__ import annotations

import html
from typing import Any

from archiver.keep.compare import Change, Side

LABEL = "third-party witnesses: other archives' copies, not our captures"


def witnesses_json(ch: Change) -> dict[str, Any] | None:
    """What the latest capture's lookups found, and the mementos we captured; None: nothing."""
    e, bag = ch.after.entry, ch.after.bag
    captured = bag.mementos.get(ch.url, [])
    if e.witnesses is None and not captured:
        return None
    lookups = []
    for q in e.witnesses or []:
        data = q.to_json()
        data["record_ids"] = [r.record_id for r in q.records]
        del data["records"]
        lookups.append(data)
    mementos = []
    for m in captured:
        assert m.memento_of is not None
        responses = m.response_refs()
        text = Side(bag, m).text
        mementos.append(
            {
                **m.memento_of.to_json(),
                "memento_url": m.url,
                "run": bag.name,
                "outcome": m.outcome,
                "status": m.status,
                "payload_sha256": m.payload_sha256,
                "text": f"{bag.name}/data/{text.path}" if text else None,
                "record_id": responses[-1].record_id if responses else None,
            }
        )
    return {"label": LABEL, "lookups": lookups, "captured_mementos": mementos}


def witnesses_text(data: dict[str, Any] | None) -> list[str]:
    """Indented lines under the URL's line in the plain-text report."""
    if data is None:
        return []
    out = []
    for q in data["lookups"]:
        where = f"{q['service']} {q['endpoint']}"
        if q["error"]:
            out.append(f"    third-party lookup failed: {where} ({q['error']['class']})")
        elif not q["mementos"]:
            out.append(f"    third-party lookup: {where} knows no memento")
        for m in q["mementos"]:
            out.append(
                f"    third-party witness ({m['rel']}): {m['archive']} {m['datetime']} {m['url']}"
            )
    for m in data["captured_mementos"]:
        out.append(
            f"    memento captured (their copy, our capture): {m['memento_url']} "
            f"({m['outcome']}, {m['archive']} {m['memento_datetime']})"
        )
    return out


def witnesses_html(data: dict[str, Any] | None) -> str:
    """A table apart from the URL's own timeline; URLs shown as text, never as links."""
    if data is None:
        return ""
    e = html.escape
    rows = []
    for q in data["lookups"]:
        asked = f"{e(q['service'])} <code>{e(q['endpoint'])}</code> at {e(q['asked'])}"
        if q["error"] or not q["mementos"]:
            said = f"lookup failed ({e(q['error']['class'])})" if q["error"] else "no memento"
            rows.append(f"<tr><td>{asked}</td><td colspan='3'>{said}</td></tr>")
        for m in q["mementos"]:
            rows.append(
                f"<tr><td>{asked}</td><td>{e(m['archive'])} ({e(m['rel'])})</td>"
                f"<td>{e(m['datetime'])}</td><td><code>{e(m['url'])}</code></td></tr>"
            )
    for m in data["captured_mementos"]:
        rows.append(
            f"<tr><td>captured by us in {e(m['run'])}: {e(m['outcome'])}</td>"
            f"<td>{e(m['archive'])}</td><td>{e(m['memento_datetime'])}</td>"
            f"<td><code>{e(m['memento_url'])}</code> <code>{e(m['payload_sha256'] or '')}</code>"
            "</td></tr>"
        )
    return (
        f"<h3 class='third-party'>{e(LABEL[0].upper() + LABEL[1:])}</h3><table class='third-party'>"
        "<tr><th>asked</th><th>archive</th><th>memento datetime</th><th>memento URL</th></tr>"
        + "".join(rows)
        + "</table>"
    )
