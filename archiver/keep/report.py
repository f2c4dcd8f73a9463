"""``archiver report COLLECTION``: what changed, moved, vanished or went dark since the last run.

It reads the collection's sealed bags in the runs folder directly, so the report is right even
with no catalog; the catalog beside them, when it covers every bag, only spares reading old
runs. The exit code is EXIT_CHANGED when any URL is in an alarming class, so cron can mail the
report only when it matters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from archiver.base.errors import EXIT_CHANGED, EXIT_OK
from archiver.base.fsutil import replace_file
from archiver.keep.catalog import catalog_path
from archiver.keep.compare import compare_runs
from archiver.keep.render import report_html, report_json, report_text
from archiver.keep.runs import collection_name, find_runs, pick_base


def report_command(
    collection: str,
    out: Path,
    since: str | None = None,
    *,
    as_json: bool = False,
    html_file: Path | None = None,
) -> int:
    """Print the report (text or JSON) and write the HTML page if asked; exit 4 if alarming."""
    bags = find_runs(out, collection_name(collection))
    base = pick_base(bags, since)
    changes = compare_runs(bags, base, catalog_path(None, out))
    data = report_json(bags, base, changes)
    if html_file is not None:
        here = html_file.resolve().parent
        replace_file(html_file, report_html(data, changes, bags, here).encode("utf-8"))
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    else:
        sys.stdout.write(report_text(data))
    return EXIT_CHANGED if data["alarming"] else EXIT_OK


def write_report_beside(out: Path, collection: str, bag_name: str) -> list[Path]:
    """After a scheduled run: ``<bag>.report.html`` and ``<bag>.report.json`` beside the bag.

    Beside, never inside: a sealed bag is never modified. The report compares the new bag with
    the collection's previous one, exactly as ``archiver report`` would at that moment.
    """
    bags = find_runs(out, collection)
    base = pick_base(bags, None)
    changes = compare_runs(bags, base, catalog_path(None, out))
    data = report_json(bags, base, changes)
    html_path = out / f"{bag_name}.report.html"
    json_path = out / f"{bag_name}.report.json"
    replace_file(html_path, report_html(data, changes, bags, out.resolve()).encode("utf-8"))
    replace_file(json_path, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode())
    return [html_path, json_path]
