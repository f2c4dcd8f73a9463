"""``archiver import WARC|WACZ...``: other tools' captures, sealed and attested like a run.

The WARC files are copied into the bag byte for byte (never re-written); a WACZ is kept whole
under ``data/wacz/`` and the WARCs of its ``archive/`` folder are copied out beside the others,
so ``archiver verify`` checks them. Every WARC must pass the project's WARC checker without an
error first: a damaged file stops the import with one line and nothing is kept (docs/import.md).
The capture log is derived from the records (``run/importlog.py``), texts come from the same
cleaner ``archiver clean`` uses, and sealing, custody, timestamps, signature and the catalog
are the run's own steps (``run/finish.py``).
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from archiver import __version__
from archiver.attest.tsa import tsas_from_options
from archiver.bag.info import bag_info_fields
from archiver.bag.profile import copy_profile_into
from archiver.bag.summary import render_summary
from archiver.bag.writer import BagBuilder
from archiver.base.errors import EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.settings import Settings
from archiver.base.timefmt import compact, day, parse_iso, utc_iso
from archiver.capture.log import LOG_NAME, CaptureEntry, TextRef, dumps_entry
from archiver.clean.command import clean_warcs
from archiver.clean.sidecar import record_uuid
from archiver.export.unpack import MAX_RATIO, RESERVE
from archiver.run.command import _check_out
from archiver.run.console import print_result
from archiver.run.finish import anchor
from archiver.run.importlog import (
    FileEntries,
    ImportFacts,
    capture_span,
    file_entries,
    summary_fields,
)
from archiver.run.options import RunOptions
from archiver.run.plan import RunPlan, plan_run
from archiver.run.settings import build_settings
from archiver.run.state import check_bag_name
from archiver.warc.arc import looks_like_arc
from archiver.warc.check import WarcCheck, check_warc

WARC_NAMES = (".warc", ".warc.gz")


@dataclass(frozen=True)
class ImportInput:
    """One file to import: a WARC, or a WACZ and the WARC members of its archive/ folder."""

    path: Path
    members: tuple[str, ...] = ()  # WACZ only

    @property
    def is_wacz(self) -> bool:
        return bool(self.members)


def inspect_input(arg: str) -> ImportInput:
    """What the file is, decided by its first bytes; one line naming it when it is neither."""
    path = Path(arg)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise ArchiverError(f"{arg}: {what}; give WARC or WACZ files", EXIT_USAGE)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as err:
        raise ArchiverError(f"{arg}: cannot read it ({err.strerror})", EXIT_USAGE) from None
    if head.startswith(b"PK\x03\x04"):
        return ImportInput(path, _wacz_members(path))
    if looks_like_arc(path):
        raise ArchiverError(
            f"{arg}: an ARC file; archiver import takes WARC and WACZ files "
            "(`archiver check` and `archiver clean` read ARC)",
            EXIT_USAGE,
        )
    if not head.startswith((b"\x1f\x8b", b"WARC/")):
        raise ArchiverError(f"{arg}: not a WARC or WACZ file (it does not start like one)")
    if not path.name.endswith(WARC_NAMES):
        raise ArchiverError(f"{arg}: a WARC file's name must end in .warc or .warc.gz; rename it")
    return ImportInput(path)


def _wacz_members(path: Path) -> tuple[str, ...]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise ArchiverError(f"{path}: not a readable WACZ (zip) file ({err})", EXIT_USAGE) from None
    members = tuple(
        n
        for n in names
        if PurePosixPath(n).parent.as_posix() == "archive" and n.endswith(WARC_NAMES)
    )
    if not members:
        raise ArchiverError(f"{path}: a zip file with no archive/*.warc.gz: not a WACZ", EXIT_USAGE)
    return members


def _staged_names(inputs: list[ImportInput]) -> list[tuple[ImportInput, str | None, str]]:
    """(input, WACZ member or None, name under data/warcs/); two WARCs of one name are refused."""
    planned: list[tuple[ImportInput, str | None, str]] = []
    for item in inputs:
        for member in item.members or (None,):
            name = PurePosixPath(member).name if member else item.path.name
            if any(name == other for _, _, other in planned):
                raise ArchiverError(
                    f"{name}: two inputs hold a WARC of this name; import them apart"
                )
            planned.append((item, member, name))
    return planned


def _stage(builder: BagBuilder, inputs: list[ImportInput]) -> list[tuple[Path, str, str]]:
    """Copy every WARC (and each WACZ whole) into the staging payload.

    Per WARC: (staged path, the input as given for messages, its name in the capture log).
    """
    staged: list[tuple[Path, str, str]] = []
    for item in inputs:
        if item.is_wacz:
            builder.add_payload_file(f"wacz/{item.path.name}", item.path)
    for item, member, name in _staged_names(inputs):
        rel = f"warcs/{name}"
        if member is None:
            builder.add_payload_file(rel, item.path)
            staged.append((builder.staging / "data" / rel, str(item.path), name))
            continue
        with zipfile.ZipFile(item.path) as zf:
            _copy_member(zf, member, builder, rel, item.path)
        where = f"{item.path}!{member}", f"{item.path.name}!{member}"
        staged.append((builder.staging / "data" / rel, *where))
    return staged


def _copy_member(
    zf: zipfile.ZipFile, member: str, builder: BagBuilder, rel: str, wacz: Path
) -> None:
    """Copy one WARC out of a WACZ, bounded like ``archiver receive`` bounds an archive: no
    member that inflates like a bomb or beyond the free space, none longer than it declares."""
    info = zf.getinfo(member)
    where = f"{wacz}!{member}"
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        raise ArchiverError(f"{where}: inflates over {MAX_RATIO}x (a zip bomb?); not imported")
    free = shutil.disk_usage(builder.staging).free
    if info.file_size > free - min(RESERVE, free // 10):
        raise ArchiverError(f"{where}: {info.file_size} bytes, more than the free space here")
    copied = 0
    with zf.open(info) as src, builder.open_payload(rel) as dst:
        while chunk := src.read(1 << 20):
            copied += len(chunk)
            if copied > info.file_size:
                raise ArchiverError(f"{where}: longer than the {info.file_size} bytes it declares")
            dst.write(chunk)


def _check(path: Path, label: str) -> WarcCheck:
    """The project's WARC check; any error stops the import (archiver never rewrites bytes)."""
    result = check_warc(path, display_path=label)
    errors = [p for p in result.problems if p.severity == "error"]
    if errors:
        first = errors[0]
        raise ArchiverError(
            f"{label}: damaged WARC, not imported ({first.code}: {first.message}); "
            f"`archiver check {label}` lists every problem",
            EXIT_USAGE,
        )
    return result


def _plan(collection: str | None) -> RunPlan:
    """The collection the import belongs to: a collection folder or toml, else a plain name."""
    if collection and Path(collection).exists():
        plan = plan_run([collection], 0)
        return dataclasses.replace(plan, seeds={}, local_documents=[])
    name = collection or "import"
    if check_bag_name(name) != name or " " in name:
        raise ArchiverError(f"--collection {name!r}: give a folder or a plain name", EXIT_USAGE)
    return RunPlan(name, "", {}, [], None, {})


def import_command(options: RunOptions, collection: str | None) -> int:
    """Check the inputs, stage and check the WARCs, derive the log, clean, seal, attest."""
    inputs = [inspect_input(arg) for arg in options.sources]
    _staged_names(inputs)  # name clashes found before anything is written
    plan = _plan(collection)
    settings = build_settings(plan, options)
    tsas = tsas_from_options(options.tsa) or plan.tsas
    if options.sign_key and not Path(options.sign_key).is_file():
        raise ArchiverError(f"{options.sign_key}: signing key not found (--sign-key)", EXIT_USAGE)
    # A damaged WARC given as a file is refused before anything is written (WACZ members are
    # checked once copied out); the copy's bytes are the same, so is its check.
    checked = {str(i.path): _check(i.path, str(i.path)) for i in inputs if not i.is_wacz}
    _check_out(options.out)
    now = datetime.now(UTC)
    name = f"{plan.name}-{compact(now)}"
    if (options.out / name).exists():
        raise ArchiverError(
            f"{options.out / name}: already exists; a sealed bag is never overwritten"
        )
    builder = BagBuilder(options.out / name)
    try:
        if plan.collection_toml is not None:  # as a run keeps it: what the collection is
            builder.add_payload_file("collection.toml", plan.collection_toml)
        files = _fill(builder, inputs, options, checked)
        entries = [e for f in files for e in f.entries]
        facts = summary_fields(files)
        bag_info = _bag_info(settings, plan, entries, facts, [i.path.name for i in inputs], now)
        _write_log_and_summary(builder, bag_info, entries, facts)
        copy_profile_into(builder.staging)
        bag = builder.seal(bag_info)
    except BaseException:
        shutil.rmtree(builder.staging, ignore_errors=True)  # nothing half-imported is left
        raise
    span = capture_span(entries)
    started = parse_iso(span[0]) if span else now
    ended = parse_iso(span[1]) if span else now
    extra: dict[str, object] = {
        "captured_by": facts.software,
        "sources": [i.path.name for i in inputs],
    }
    anchor(bag, options.out, len(entries), settings, tsas, options, started or now, ended or now,
           event="imported", extra=extra)  # fmt: skip
    _report(files, facts, options)
    print_result(bag, Counter(str(e.outcome) for e in entries), 0, options)
    return EXIT_OK


def _fill(
    builder: BagBuilder,
    inputs: list[ImportInput],
    options: RunOptions,
    checked: dict[str, WarcCheck],
) -> list[FileEntries]:
    """Stage and check every WARC, derive the entries, add the texts the cleaner made."""
    staged = _stage(builder, inputs)
    checks = [checked.get(shown) or _check(path, shown) for path, shown, _ in staged]
    files = [
        file_entries(path, c, source) for (path, _, source), c in zip(staged, checks, strict=True)
    ]
    if options.clean:
        _add_texts(builder, [p for p, _, _ in staged], files, options)
    return files


def _add_texts(
    builder: BagBuilder, warcs: list[Path], files: list[FileEntries], options: RunOptions
) -> None:
    """Clean the WARCs as `archiver clean` does; each text listed on its record's entry."""
    with tempfile.TemporaryDirectory(prefix=".import-clean-", dir=options.out) as tmp:
        summary = clean_warcs(warcs, Path(tmp), limits=options.clean_limits)
        made = {o.text_name.removesuffix(".txt"): o for o in summary.outputs}
        for f in files:
            for i, entry in enumerate(f.entries):
                out = made.pop(record_uuid(entry.records[0].record_id), None)
                if out is None:
                    continue
                builder.add_payload_file(f"text/{out.text_name}", Path(tmp) / out.text_name)
                builder.add_payload_file(f"text/{out.sidecar_name}", Path(tmp) / out.sidecar_name)
                text = TextRef(f"text/{out.text_name}", f"text/{out.sidecar_name}", out.text_sha256)
                f.entries[i] = dataclasses.replace(entry, text=text)


def _bag_info(
    settings: Settings,
    plan: RunPlan,
    entries: list[CaptureEntry],
    facts: ImportFacts,
    sources: list[str],
    now: datetime,
) -> list[tuple[str, str]]:
    """The run's bag-info fields, saying whose capture this is and who imported it.

    The run's Capture-Software and Capture-Operator would name archiver and the importer:
    they are replaced by what the tools' warcinfo records say, and left out when they say nothing.
    """
    software = ", ".join(facts.software)
    span = capture_span(entries) or (utc_iso(now), utc_iso(now))
    what = f"Captured by {software or 'a tool its warcinfo does not name'}; "
    what += f"imported by archiver {__version__} from {', '.join(sources)}"
    if plan.description:
        what = f"{plan.description} ({what})"
    run_id = f"urn:uuid:{uuid.uuid4()}"
    start, end = parse_iso(span[0]) or now, parse_iso(span[1]) or now
    theirs = {"Capture-Software": software, "Capture-Operator": ", ".join(facts.operators)}
    fields = [
        (k, day(now) if k == "Bagging-Date" else v)
        for k, v in bag_info_fields(settings, what, run_id, start, end)
        if k not in theirs
    ]
    fields += [(k, v) for k, v in theirs.items() if v]
    fields.append(("Import-Software", f"archiver {__version__}"))
    fields.append(("Import-Date", utc_iso(now, micros=False)))
    if settings.operator:
        fields.append(("Import-Operator", settings.operator))
    fields += [("Import-Source", s) for s in sources]
    skipped = facts.skipped
    fields += [("Import-Records-Not-Listed", f"{n}: {why}") for why, n in sorted(skipped.items())]
    return fields


def _write_log_and_summary(
    builder: BagBuilder,
    bag_info: list[tuple[str, str]],
    entries: list[CaptureEntry],
    facts: ImportFacts,
) -> None:
    with builder.open_payload(LOG_NAME) as log:
        for entry in entries:
            log.write(dumps_entry(entry))
    # Their capture settings are not ours to show: the summary says whose capture it is.
    html, text = render_summary(bag_info, [e.to_json() for e in entries], {})
    with builder.open_payload("provenance-summary.html") as f:
        f.write(html.encode("utf-8"))
    with builder.open_payload("provenance-summary.txt") as f:
        f.write(text.encode("utf-8"))


def _report(files: list[FileEntries], facts: ImportFacts, options: RunOptions) -> None:
    if options.quiet:
        return
    n = sum(len(f.entries) for f in files)
    tools = ", ".join(facts.software) or "a tool its warcinfo does not name"
    print(f"archiver: imported {n} records captured by {tools}", file=sys.stderr)
    skipped = facts.skipped
    for why, count in sorted(skipped.items()):
        print(f"  {count} records not listed: {why}", file=sys.stderr)
