"""``archiver run``: sources -> cited URLs -> WARC capture -> clean text -> one sealed BagIt bag.

The bag is assembled in a staging folder beside its final name and renamed into place only when
complete. Everything is written once: WARCs, texts and sidecars go straight into the staging
payload through hashing writers, so sealing never re-reads the payload. An interrupted run leaves
its staging folder, journal and closed WARCs; running the same command again resumes it and only
captures the URLs that are not done yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import shutil
import signal
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

from archiver import SOFTWARE, __version__
from archiver.attest.signing import finish_signature
from archiver.attest.tsa import tsas_from_table
from archiver.bag.profile import PROFILE_IDENTIFIER
from archiver.base import faults
from archiver.base.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    ArchiverError,
)
from archiver.base.fsutil import fsync_dir
from archiver.base.settings import Settings, from_environment
from archiver.base.timefmt import parse_iso, utc_iso
from archiver.capture.log import LOG_NAME, Journal, dumps_entry, read_entries
from archiver.progress import OUTCOME_WORDS, LogTee, RunProgress

# Run state lives beside the staging folder, never inside it, so it can never end up in the bag
# and survives a failed seal: .NAME.run.json, .NAME.capture-log.jsonl (journal), .NAME.lock
STATE_SUFFIX = ".run.json"
JOURNAL_SUFFIX = ".capture-log.jsonl"
LOCK_SUFFIX = ".lock"
PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
CLEANABLE_TYPES = ("text/html", "application/xhtml+xml", "application/pdf")


@dataclass
class RunOptions:
    sources: list[str]
    out: Path
    name: str | None = None
    hops: int | None = None
    proxy: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    operator: str | None = None
    organisation: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    user_agent: str | None = None
    per_host_delay: float | None = None
    concurrency: int | None = None
    connect_timeout: float | None = None
    read_timeout: float | None = None
    max_time_per_url: float | None = None
    max_size: int | None = None
    ignore_robots: str | None = None
    allow_private: bool = False  # --allow-private (also ARCHIVER_ALLOW_PRIVATE=1)
    clean: bool = True
    progress: str = "auto"
    tsa: list[str] | None = None  # NAME=URL,ROOT.pem values; None: ARCHIVER_TSA
    sign_key: str | None = None
    trust_collection_settings: bool = False  # the operator consents to the collection's settings
    dry_run: bool = False  # plan only: no network, nothing written
    json: bool = False  # final machine-readable summary on stdout
    quiet: bool = False  # no progress or summary; warnings, errors and the bag path only
    log: str | None = None  # also append progress lines and warnings to this file
    clean_limits: Any = None  # archiver.clean.workers.CleanLimits; None: the documented defaults


@dataclass
class SeedPlan:
    url: str
    hops: int
    citations: list[dict[str, str]] = field(default_factory=list)


@dataclass
class RunPlan:
    """What a run will capture, worked out before any network access."""

    name: str
    description: str
    seeds: dict[str, SeedPlan]
    local_documents: list[tuple[str, Path]]  # (name under data/sources/, file)
    collection_toml: Path | None
    overrides: dict[str, Any]
    curator_name: str = ""
    curator_email: str = ""
    organisation: str = ""
    tsas: list[Any] = field(default_factory=list)  # the collection's [[tsa]] tables
    collection_record: str = ""  # which collection settings applied / were ignored (warcinfo)

    def fingerprint(self) -> str:
        """Same sources -> same fingerprint: how a re-run finds the run it should resume."""
        h = hashlib.sha256()
        for url in sorted(self.seeds):
            h.update(url.encode() + b"\n")
        for _, doc in self.local_documents:
            h.update(str(doc.resolve()).encode() + b"\n")
        return h.hexdigest()[:16]


def _check_ranges(s: Settings) -> None:
    """Refuse settings that would silently capture nothing or wrong (e.g. --max-size -1)."""
    checks = [
        ("--hops", s.hops, s.hops >= 0),
        ("--delay", s.per_host_delay, s.per_host_delay >= 0),
        ("--concurrency", s.concurrency, s.concurrency >= 1),
        ("--connect-timeout", s.connect_timeout, s.connect_timeout > 0),
        ("--read-timeout", s.read_timeout, s.read_timeout > 0),
        ("--max-time", s.max_time_per_url, s.max_time_per_url > 0),
        ("--max-size", s.max_size, s.max_size > 0),
    ]
    for option, value, ok in checks:
        if not ok:
            raise ArchiverError(f"{option} {value}: out of range", EXIT_USAGE)
    if s.proxy:
        parts = urlsplit(s.proxy)
        if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
            raise ArchiverError(
                f"--proxy {_masked(s.proxy)}: give scheme://host:port with scheme "
                f"{', '.join(PROXY_SCHEMES)} (e.g. socks5h://127.0.0.1:9050 for Tor)",
                EXIT_USAGE,
            )


def _masked(proxy: str) -> str:
    """The proxy URL with its password masked: error messages end up in logs."""
    from archiver.base.facts import mask_password

    return mask_password(proxy) or ""


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def plan_run(sources: list[str], default_hops: int | None) -> RunPlan:
    """Turn the SOURCE arguments into seeds with citations; fail early on bad input."""
    from archiver.collect.collection import load_collection
    from archiver.collect.documents import find_urls
    from archiver.collect.normalize import normalize_url

    seeds: dict[str, SeedPlan] = {}
    local_docs: list[tuple[str, Path]] = []
    names: list[str] = []
    descriptions: list[str] = []
    overrides: dict[str, Any] = {}
    collection_toml: Path | None = None
    collection_tsas: list[Any] = []
    curator_name = curator_email = organisation = ""

    def add(url: str, hops: int, citation: dict[str, str] | None) -> None:
        norm = normalize_url(url)
        if norm is None:
            raise ArchiverError(f"{url}: not an http(s) URL that can be captured", EXIT_USAGE)
        seed = seeds.setdefault(norm, SeedPlan(norm, hops))
        seed.hops = max(seed.hops, hops)
        if citation and citation not in seed.citations:
            seed.citations.append(citation)

    def add_document_file(path: Path) -> None:
        # Citations name the document as it is kept in the bag (data/sources/NAME), not the
        # operator's local path, so the log reads the same on any machine.
        taken = {name for name, _ in local_docs}
        # Receivers' tools mishandle '%' and control characters in bag paths (bagit-python #157):
        # keep letters, digits, '.', '_', '-' and replace the rest. The original stays in the log.
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in path.name)
        safe = safe.lstrip(".") or "document"
        stem, suffix = os.path.splitext(safe)
        name, n = safe, 1
        while name in taken:  # two documents called report.pdf from different folders
            n += 1
            name = f"{stem}-{n}{suffix}"
        local_docs.append((name, path))
        in_bag = f"sources/{name}"
        for c in find_urls(path):
            locator = c.locator
            if locator.startswith(c.document):
                locator = in_bag + locator[len(c.document) :]
            add(c.url, 0, {"document": in_bag, "locator": locator, "cited_as": c.cited_as})

    for source in sources:
        if _is_url(source):
            add(source, 1 if default_hops is None else default_hops, None)
            names.append(urlsplit(source).hostname or "url")
            continue
        path = Path(source)
        if not path.exists():
            raise ArchiverError(
                f"{source}: no such file or folder (give a collection folder, a collection.toml, "
                "a document, or an http(s) URL)",
                EXIT_USAGE,
            )
        if path.is_dir() or path.suffix.lower() == ".toml":  # a collection definition
            if collection_toml is not None:
                raise ArchiverError(
                    f"{source}: one collection per run (bag each collection separately)", EXIT_USAGE
                )
            coll = load_collection(path)
            try:
                coll_tsas = tsas_from_table(
                    coll.tsa_tables, base=coll.toml_path.parent, refuse_private=True
                )
            except ArchiverError as exc:
                raise ArchiverError(f"{coll.toml_path}: {exc}", EXIT_USAGE) from exc
            collection_toml = coll.toml_path
            names.append(coll.name)
            descriptions.append(coll.description or coll.title or coll.name)
            overrides.update(coll.capture_overrides)
            collection_tsas = coll_tsas
            curator_name = coll.curator.name or curator_name
            curator_email = coll.curator.email or curator_email
            organisation = coll.organisation or organisation
            coll_hops = default_hops if default_hops is not None else overrides.get("hops")
            for doc in coll.documents:
                hops = doc.hops if doc.hops is not None else coll_hops
                if doc.url:
                    add(
                        doc.url,
                        1 if hops is None else hops,
                        {
                            "document": "collection.toml",
                            "locator": "document",
                            "cited_as": doc.cited_as,
                        },
                    )
                if doc.file is not None:
                    add_document_file(doc.file)
            for extra in coll.extra_urls:
                add(
                    extra.url,
                    0,
                    {
                        "document": extra.cited_in or "collection.toml",
                        "locator": extra.locator or "url",
                        "cited_as": extra.cited_as or extra.url,
                    },
                )
        else:
            add_document_file(path)
            names.append(path.stem)
            descriptions.append(f"URLs cited by {path.name}")
    if not seeds:
        raise ArchiverError("the sources cite no http(s) URLs: nothing to capture", EXIT_USAGE)
    name = _safe_name("+".join(dict.fromkeys(names))[:60] or "run")
    return RunPlan(
        name=name,
        description="; ".join(descriptions) or "web capture",
        seeds=seeds,
        local_documents=local_docs,
        collection_toml=collection_toml,
        overrides=overrides,
        curator_name=curator_name,
        curator_email=curator_email,
        organisation=organisation,
        tsas=collection_tsas,
    )


def _safe_name(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)
    return keep.strip("-.") or "run"


def build_settings(plan: RunPlan, options: RunOptions) -> Settings:
    """defaults < collection [capture] (what it may set) < user settings < environment < options.

    Collection settings that change what is trusted apply only with the operator's consent;
    each one ignored is named on stderr, and the collection's [[tsa]] tables are dropped too.
    """
    from archiver.collect.trust import decide_capture
    from archiver.usersettings import load_user_settings

    user = load_user_settings()
    trusted = options.trust_collection_settings or user.trust_collection_settings
    decision = decide_capture(plan.overrides, trusted=trusted, has_tsa=bool(plan.tsas))
    for line in decision.warnings(plan.collection_toml or "collection"):
        print(f"archiver: {line}", file=sys.stderr)
    if decision.tsa_ignored:
        plan.tsas = []
    if plan.collection_toml is not None:
        consent = "operator consented" if trusted else "no operator consent"
        plan.collection_record = f"{consent}; {decision.record()}"
    base = Settings()
    try:
        base = base.with_overrides(**decision.applied)
    except TypeError as err:  # collection.py validates keys; this is a second line of defence
        raise ArchiverError(f"collection [capture]: {err}", EXIT_USAGE) from err
    base = base.with_overrides(
        contact_name=plan.curator_name or None,
        contact_email=plan.curator_email or None,
        organisation=plan.organisation or None,
    )
    base = base.with_overrides(**user.settings)
    s = from_environment(base)
    s = s.with_overrides(
        hops=options.hops,
        proxy=options.proxy,
        ca_bundle=options.ca_bundle,
        operator=options.operator,
        organisation=options.organisation,
        contact_name=options.contact_name,
        contact_email=options.contact_email,
        user_agent=options.user_agent,
        per_host_delay=options.per_host_delay,
        concurrency=options.concurrency,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_time_per_url=options.max_time_per_url,
        max_size=options.max_size,
    )
    if options.insecure:
        s = s.with_overrides(verify_tls=False)
    if options.ignore_robots is not None:
        if not options.ignore_robots.strip():
            raise ArchiverError("--ignore-robots needs a reason; it is recorded", EXIT_USAGE)
        s = s.with_overrides(respect_robots=False, robots_override_reason=options.ignore_robots)
    if not s.respect_robots and not s.robots_override_reason:
        raise ArchiverError(
            "respect_robots = false needs robots_override_reason (it is recorded with the capture)",
            EXIT_USAGE,
        )
    if options.allow_private:
        s = s.with_overrides(allow_private=True)
    if not options.clean:
        s = s.with_overrides(clean=False)
    _check_ranges(s)
    if s.ca_bundle and not Path(s.ca_bundle).is_file():
        raise ArchiverError(f"{s.ca_bundle}: CA bundle not found (--ca-bundle)", EXIT_USAGE)
    return s


def _run_file(out: Path, name: str, suffix: str) -> Path:
    return out / f".{name}{suffix}"


def _find_resumable(out: Path, fingerprint: str) -> dict[str, Any] | None:
    """The state of an unfinished run of the same sources, if any.

    Unfinished means: its staging folder is there (capture or seal was interrupted), its bag
    is sealed but the steps after sealing were not all done (custody, timestamps, signature,
    clean-up), or neither exists yet (stopped before the staging folder was made).
    """
    for state_file in sorted(out.glob(f".*{STATE_SUFFIX}")):
        try:
            state = json.loads(state_file.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
            continue
        name = state.get("name")
        if not isinstance(name, str) or not isinstance(state.get("run_id"), str):
            continue
        bag = out / name
        if (out / f".{name}.partial").is_dir():
            return state
        if bag.exists():
            if _is_sealed_run(bag, state["run_id"]):
                return state
            continue  # a bag of another run took that name: never touched
        return state
    return None


def _is_sealed_run(bag: Path, run_id: str) -> bool:
    """``bag`` is the sealed bag of run ``run_id`` (its bag-info names the run)."""
    from archiver.bag.reader import bag_info_value, read_bag_info

    if not (bag / "bagit.txt").is_file() or not (bag / "tagmanifest-sha256.txt").is_file():
        return False
    return bag_info_value(read_bag_info(bag), "External-Identifier") == run_id


def _lock_run(out: Path, name: str) -> Any:
    """Hold an exclusive lock for the run: two runs into one staging folder corrupt each other."""
    path = _run_file(out, name, LOCK_SUFFIX)
    handle = open(path, "a")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ArchiverError(
            f"{out / name}: another archiver run is writing this bag; wait for it to finish",
            EXIT_RUN_FAILED,
        ) from None
    return handle


def _check_bag_name(name: str) -> str:
    if not name or name in (".", "..") or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ArchiverError(
            f"--name {name!r}: give a plain folder name (no '/', not starting with '.')", EXIT_USAGE
        )
    return name


def warcinfo_fields(settings: Settings, plan: RunPlan) -> dict[str, str]:
    robots = (
        "obey"
        if settings.respect_robots
        else f"ignore (override reason: {settings.robots_override_reason})"
    )
    from archiver.base.facts import warcinfo_facts  # software, OS, options (masked)

    run_wide = warcinfo_facts(settings)
    return {
        "software": run_wide.pop("software"),
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "operator": settings.operator or "(not given)",
        "organisation": settings.organisation or "(not given)",
        "hostname": settings.hostname,
        "robots": robots,
        "http-header-user-agent": settings.effective_user_agent(),
        "http-header-from": settings.contact_email or "",
        "isPartOf": plan.name,
        "description": plan.description,
        **({"collection-settings": plan.collection_record} if plan.collection_record else {}),
        **run_wide,
    }


class _Runner:
    """State of one run while it captures; callbacks arrive on worker threads."""

    def __init__(self, plan: RunPlan, settings: Settings, options: RunOptions) -> None:
        self.plan = plan
        self.settings = settings
        self.options = options
        self.lock = threading.Lock()
        self.progress: RunProgress | None = None
        self.builder: Any = None
        self.journal: Journal | None = None
        self.text_errors = 0
        self.pool: Any = None
        if settings.clean:
            from archiver.clean.workers import CleanPool

            # Worker processes with memory and time caps; no lock: captures and cleaning overlap.
            self.pool = CleanPool(options.clean_limits)

    def close(self) -> None:
        """Stop the cleaning workers (called once capture has ended, on every path)."""
        if self.pool is not None:
            self.pool.close()

    def on_result(self, result: Any) -> None:
        entry = dict(result.entry)
        entry.setdefault("text", None)
        if (
            self.pool is not None
            and result.payload_path is not None
            and result.response_record is not None
            and entry.get("outcome") == "captured"
            and (result.content_type or "").split(";")[0].strip().lower() in CLEANABLE_TYPES
        ):
            entry["text"] = self._clean(entry, result)
        assert self.journal is not None
        self.journal.append(entry)
        if self.progress is not None:
            self.progress.url_done(entry)

    def _clean(self, entry: dict[str, Any], result: Any) -> dict[str, str] | None:
        """Clean in a worker process; a cap that stops it gives an empty text and ``reason``."""
        from archiver.clean.sidecar import SourceRef, write_outputs
        from archiver.clean.workers import CleanJob, reason_code

        ref = result.response_record
        try:
            job = CleanJob(
                path=str(result.payload_path),  # decoded body; the worker reads it itself
                url=entry.get("final_url") or entry["url"],
                content_type=result.content_type,
                capture_date=parse_iso(result.warc_date or entry.get("ended")),
            )
            extraction = self.pool.clean(job)
            source = SourceRef(
                warc_file=ref.warc_file,
                record_id=ref.record_id,
                target_uri=ref.target_uri or entry["url"],
                warc_date=result.warc_date or entry.get("ended") or "",
                payload_sha256=entry.get("payload_sha256") or "",
                content_type=result.content_type or "",
            )
            out = write_outputs(
                extraction, source, lambda name: self.builder.open_payload(f"text/{name}")
            )
        except Exception as err:  # cleaning is derived data: never lose a capture over it
            with self.lock:
                self.text_errors += 1
            return {"error": f"{type(err).__name__}: {err}"}
        text = {
            "path": f"text/{out.text_name}",
            "sidecar": f"text/{out.sidecar_name}",
            "sha256": out.text_sha256,
        }
        code = reason_code(extraction)
        if code is not None:  # clean-memory-limit, clean-time-limit, ...: why the text is empty
            text["reason"] = code
        return text


class _RunJournal(Journal):
    """The capture journal, with a fault point after each URL is journaled as done."""

    def append(self, entry: Any) -> None:
        super().append(entry)
        faults.point("run.url-journaled")


def run_command(options: RunOptions) -> int:
    """``archiver run``; with --log/--quiet, stderr goes through a ``LogTee`` for the run."""
    with _run_output(options) as tee:
        code = _run_command(options)
        if tee is not None:
            from archiver.base.errors import EXIT_MEANINGS

            tee.log_text(f"archiver: run ended with exit code {code} ({EXIT_MEANINGS[code]})\n")
        return code


@contextmanager
def _run_output(options: RunOptions) -> Iterator[LogTee | None]:
    if not (options.log or options.quiet):
        yield None
        return
    log = None
    if options.log:
        try:
            log = open(options.log, "a", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as err:
            raise ArchiverError(
                f"{options.log}: cannot open the log file ({err.strerror}); check the path",
                EXIT_USAGE,
            ) from err
    previous = sys.stderr
    tee = LogTee(previous, log, quiet=options.quiet)
    sys.stderr = tee  # type: ignore[assignment]
    tee.log_text(f"archiver {__version__}: run {' '.join(options.sources)}\n")
    try:
        yield tee
    except ArchiverError as err:  # cli.main prints it to the real stderr; the log keeps it too
        tee.log_text(f"archiver: {err}\n")
        raise
    except KeyboardInterrupt:
        tee.log_text("archiver: interrupted\n")
        raise
    finally:
        sys.stderr = previous
        if log is not None:
            log.close()


def _print_plan(plan: RunPlan, settings: Settings, tsas: list[Any], options: RunOptions) -> int:
    """--dry-run: what would be captured, cited where, with which settings. Nothing else."""
    from archiver.base.facts import settings_facts

    facts = settings_facts(settings)  # the proxy password is masked
    urls = [
        {"url": seed.url, "hops": seed.hops, "citations": seed.citations}
        for seed in plan.seeds.values()
    ]
    tsa_list = [{"name": t.name, "url": t.url} for t in tsas]
    if options.json:
        doc = {
            "dry_run": True,
            "name": plan.name,
            "out": str(options.out),
            "urls": urls,
            "settings": facts,
            "tsas": tsa_list,
            "sign_key": options.sign_key,
            "collection_settings": plan.collection_record or None,
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(
        f"dry run: would capture {len(urls)} URLs into {options.out}/ "
        "(nothing is fetched or written)"
    )
    for u in urls:
        print(f"{u['url']}\t(hops {u['hops']})")
        for c in u["citations"]:
            print(f"    cited in {c['document']} at {c['locator']} as {c['cited_as']}")
    print("settings:")
    for key, value in sorted(facts.items()):
        print(f"    {key} = {json.dumps(value, ensure_ascii=False)}")
    for t in tsa_list:
        print(f"    tsa {t['name']} = {t['url']}")
    if plan.collection_record:
        print(f"    collection settings: {plan.collection_record}")
    return EXIT_OK


def _print_result(
    bag_path: Path, entries: list[dict[str, Any]], text_errors: int, options: RunOptions
) -> None:
    """The last line(s) on stdout: the bag path, or with --json one summary object."""
    if not options.json:
        print(bag_path)
        return
    from archiver.base.errors import EXIT_MEANINGS

    outcomes = Counter(str(e.get("outcome")) for e in entries)
    doc = {
        "bag": str(bag_path),
        "exit_code": EXIT_OK,
        "meaning": EXIT_MEANINGS[EXIT_OK],
        "urls": len(entries),
        "outcomes": {k: outcomes.get(k, 0) for k in OUTCOME_WORDS} | dict(outcomes),
        "texts_not_extracted": text_errors,
    }
    print(json.dumps(doc, ensure_ascii=False))


def _run_command(options: RunOptions) -> int:
    from archiver.attest import custody
    from archiver.attest.tsa import tsas_from_options
    from archiver.bag.writer import BagBuilder
    from archiver.capture.crawl import Seed, crawl
    from archiver.usersettings import load_user_settings
    from archiver.warc.writer import WarcWriter

    # --hops, else the user settings file's hops, beat a collection's [capture] hops.
    plan = plan_run(
        options.sources,
        options.hops if options.hops is not None else load_user_settings().settings.get("hops"),
    )
    settings = build_settings(plan, options)
    # --tsa, else ARCHIVER_TSA, else the collection's [[tsa]] tables; checked before capturing.
    tsas = tsas_from_options(options.tsa) or plan.tsas
    if settings.allow_private:  # the operator's opt-in covers a collection's TSA URLs too
        tsas = [dataclasses.replace(t, refuse_private=False) for t in tsas]
    options.sign_key = options.sign_key or os.environ.get("ARCHIVER_SIGN_KEY") or None
    if options.sign_key and not Path(options.sign_key).is_file():
        raise ArchiverError(
            f"{options.sign_key}: signing key not found (--sign-key or ARCHIVER_SIGN_KEY)",
            EXIT_USAGE,
        )
    if options.dry_run:
        return _print_plan(plan, settings, tsas, options)
    out = options.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ArchiverError(
            f"{out}: cannot create output folder ({err.strerror})", EXIT_RUN_FAILED
        ) from err
    if not os.access(out, os.W_OK):
        raise ArchiverError(f"{out}: output folder is not writable", EXIT_RUN_FAILED)
    # The custody events are written after sealing: a log they cannot be added to is found
    # now, not after a long capture.
    custody.check_appendable(out / custody.LOG_NAME)

    fingerprint = plan.fingerprint()
    state = _find_resumable(out, fingerprint)
    started = datetime.now(UTC)
    if state is not None:
        name = state["name"]
        lock = _lock_run(out, name)
        run_id = state["run_id"]
        started = parse_iso(state["started"]) or started
        if _is_sealed_run(out / name, run_id):
            try:
                return _finish_sealed(out, name, state, settings, tsas, options)
            finally:
                lock.close()
        if (out / f".{name}.partial").is_dir():
            builder = BagBuilder.resume(out / name)
        else:  # stopped before the staging folder was made
            builder = BagBuilder(out / name)
        print(f"archiver: resuming interrupted run {name}", file=sys.stderr)
    else:
        name = _check_bag_name(options.name or f"{plan.name}-{started.strftime('%Y%m%dT%H%M%SZ')}")
        if (out / name).exists():
            raise ArchiverError(f"{out / name}: already exists; a sealed bag is never overwritten")
        lock = _lock_run(out, name)
        run_id = f"urn:uuid:{uuid.uuid4()}"
        state = {
            "name": name,
            "run_id": run_id,
            "fingerprint": fingerprint,
            "started": utc_iso(started),
            "sources": options.sources,
            "software": SOFTWARE,
        }
        # State first: whatever happens next, a re-run of the same command finds this run.
        _write_json_atomic(_run_file(out, name, STATE_SUFFIX), state)
        try:
            builder = BagBuilder(out / name)
        except BaseException:  # e.g. another run's staging folder under that name: not ours
            _run_file(out, name, STATE_SUFFIX).unlink(missing_ok=True)
            lock.close()
            raise

    try:
        staging: Path = builder.staging
        journal_path = _run_file(out, name, JOURNAL_SUFFIX)
        _drop_torn_tail(journal_path)
        _recover_staging(builder, list(read_entries(journal_path)))
        for name_in_bag, doc in plan.local_documents:
            if f"sources/{name_in_bag}" not in builder.recorded:
                builder.add_payload_file(f"sources/{name_in_bag}", doc)
        if plan.collection_toml is not None and "collection.toml" not in builder.recorded:
            builder.add_payload_file("collection.toml", plan.collection_toml)
        done_entries = [e for e in read_entries(journal_path) if "url" in e]
        done = {e["url"] for e in done_entries}

        runner = _Runner(plan, settings, options)
        runner.builder = builder
        runner.journal = _RunJournal(journal_path)
        todo = [
            Seed(url=s.url, citations=s.citations, hops=s.hops)
            for u, s in plan.seeds.items()
            if u not in done
        ]
        if done:
            # Links found on pages captured before the interruption are found again from the
            # captured bytes: without them a resumed run would silently capture less.
            found = _recover_hop_links(plan, done_entries, staging / "data" / "warcs")
            todo.extend(found)
            more = f"; {len(found)} links found on them are still to be captured" if found else ""
            print(
                f"archiver: {len(done)} URLs were done before the interruption{more}",
                file=sys.stderr,
            )
        runner.progress = RunProgress(len(todo), options.progress)

        if not settings.contact_email and not settings.user_agent:
            print(
                "archiver: no contact email (--contact-email or ARCHIVER_CONTACT): the User-Agent "
                "will not tell site owners how to reach you",
                file=sys.stderr,
            )
        writer = WarcWriter(
            staging / "data" / "warcs",
            prefix=settings.warc_prefix,
            hostname=settings.hostname,
            warcinfo=warcinfo_fields(settings, plan),
            max_file_size=settings.max_warc_size,
            on_file_closed=lambda path, digests: builder.record_payload(
                f"warcs/{path.name}", digests
            ),
        )
        stop = threading.Event()
        previous = _install_stop_handler(stop)
        # Bodies spool on the output disk, not in /tmp: a 1 GB response must not fill a small /tmp.
        spool = out / f".{name}.spool"
        spool.mkdir(exist_ok=True)
        try:
            crawl(
                todo,
                settings,
                writer,
                runner.on_result,
                stop=stop,
                skip=done,
                spool_dir=spool,
                on_discovered=runner.progress.add_total,
            )
        finally:
            runner.close()  # cleaning workers
            shutil.rmtree(spool, ignore_errors=True)
            writer.close()
            runner.journal.close()
            runner.progress.close()
            _restore_stop_handler(previous)
        if stop.is_set():
            print(
                f"archiver: interrupted; what was captured is kept in {staging}. "
                "Run the same command again to complete it.",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED

        # The end of capture is fixed once: a seal that failed (disk full) and is retried by a
        # re-run writes the same capture log, summary and bag-info facts.
        if "ended" not in state:
            state["ended"] = utc_iso(datetime.now(UTC))
            _write_json_atomic(_run_file(out, name, STATE_SUFFIX), state)
        ended = parse_iso(state["ended"]) or datetime.now(UTC)
        entries = list(read_entries(journal_path))
        bag_info = [
            ("Source-Organization", settings.organisation or "(not given)"),
            ("Contact-Name", settings.contact_name or settings.operator or "(not given)"),
            ("Contact-Email", settings.contact_email or "(not given)"),
            ("External-Description", " ".join(plan.description.split())),
            ("External-Identifier", run_id),
            ("Bagging-Date", ended.strftime("%Y-%m-%d")),
            ("Bag-Software-Agent", f"{SOFTWARE} (https://archiver.invalid/)"),
            ("BagIt-Profile-Identifier", PROFILE_IDENTIFIER),
            ("Capture-Start", utc_iso(started)),
            ("Capture-End", utc_iso(ended)),
            ("Capture-Operator", settings.operator or "(not given)"),
            ("Capture-Software", f"archiver {__version__}; Python {platform.python_version()}"),
        ]
        if LOG_NAME not in builder.recorded:
            with builder.open_payload(LOG_NAME) as log:
                for entry in entries:
                    log.write(dumps_entry(entry))
            faults.point("run.capture-log-written")
        if "provenance-summary.html" not in builder.recorded:
            _write_summary(builder, bag_info, entries, settings)
            faults.point("run.summary-written")
        try:
            bag_path = builder.seal(bag_info)
        except OSError as err:
            raise ArchiverError(
                f"{staging}: could not seal the bag ({err.strerror}); everything is kept: "
                "free space and run the same command again",
                EXIT_RUN_FAILED,
            ) from err
        # The run's state stays until every step after sealing is done: a re-run finishes them.
        _anchor(bag_path, out, entries, settings, tsas, options, started, ended)
        for line in runner.progress.summary_lines():
            print(line, file=sys.stderr)
        if runner.text_errors:
            print(
                f"  {runner.text_errors} texts could not be extracted (see capture log)",
                file=sys.stderr,
            )
        faults.point("run.before-cleanup")
        _clean_up_state(out, name)
        _print_result(bag_path, entries, runner.text_errors, options)
        return EXIT_OK
    finally:
        lock.close()  # released on every path, also when the run fails


def _finish_sealed(
    out: Path,
    name: str,
    state: dict[str, Any],
    settings: Settings,
    tsas: list[Any],
    options: RunOptions,
) -> int:
    """Complete a run stopped after its bag was sealed: never touches payload or manifests.

    Only what is missing is done: custody events not yet in the log, the timestamp, the
    signature, the bag's copy of its custody events, and removing the run's state files.
    """
    bag = out / name
    print(
        f"archiver: {bag} was sealed before the interruption; finishing its custody events, "
        "timestamps and signature",
        file=sys.stderr,
    )
    entries = list(read_entries(bag / "data" / LOG_NAME))
    started = parse_iso(state.get("started")) or datetime.now(UTC)
    ended = parse_iso(state.get("ended")) or started
    _anchor(bag, out, entries, settings, tsas, options, started, ended)
    faults.point("run.before-cleanup")
    _clean_up_state(out, name)
    _print_result(bag, entries, 0, options)
    return EXIT_OK


def _clean_up_state(out: Path, name: str) -> None:
    """Remove everything the run kept beside the bag; the state file goes last.

    Until the state file is gone a re-run of the same command finds the run and finishes it,
    so a crash anywhere in here is completed by the next run.
    """
    for suffix in (JOURNAL_SUFFIX, ".journal.jsonl", STATE_SUFFIX + ".tmp"):
        _run_file(out, name, suffix).unlink(missing_ok=True)
    shutil.rmtree(_run_file(out, name, ".spool"), ignore_errors=True)
    _run_file(out, name, LOCK_SUFFIX).unlink(missing_ok=True)
    _run_file(out, name, STATE_SUFFIX).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        fsync_dir(out)


def _drop_torn_tail(path: Path) -> None:
    """Cut a journal's torn last line (a crash mid-append) so new entries start on a line."""
    try:
        with open(path, "r+b") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
                f.flush()
                os.fsync(f.fileno())
    except FileNotFoundError:
        return


def _recover_hop_links(plan: RunPlan, entries: list[dict[str, Any]], warc_dir: Path) -> list[Any]:
    """Links of pages captured before an interruption that were still to be followed.

    The crawl queues a page's links only in memory, so a resumed run reads each captured HTML
    page again from its WARC response record (the bytes as captured, content-coding removed)
    and finds the same links the crawl would have followed, with the same hop budget.
    """
    from archiver.capture.crawl import HTML_TYPES, MAX_LINK_SCAN, Seed
    from archiver.collect.html import find_urls_in_html
    from archiver.warc.reader import read_record_at

    by_url = {e["url"]: e for e in entries}

    def hops_left(url: str | None, depth: int = 0) -> int:
        entry = by_url.get(url or "")
        if entry is None or depth > 1000:
            return 0
        if not entry.get("hop"):
            seed = plan.seeds.get(entry["url"])
            return seed.hops if seed is not None else 0
        return hops_left(entry.get("via"), depth + 1) - 1

    seen = set(by_url) | set(plan.seeds)
    found: list[Any] = []
    for entry in entries:
        left = hops_left(entry["url"])
        ctype = (entry.get("content_type") or "").split(";")[0].strip().lower()
        if entry.get("outcome") != "captured" or left <= 0 or ctype not in HTML_TYPES:
            continue
        responses = [r for r in entry.get("records") or [] if r.get("type") == "response"]
        if not responses:
            continue
        ref = responses[-1]
        try:
            with read_record_at(warc_dir / ref["warc_file"], int(ref["offset"])) as record:
                html = record.payload(decode_content=True).read(MAX_LINK_SCAN)
        except (OSError, ValueError, KeyError, ArchiverError) as err:
            print(
                f"archiver: {entry['url']}: cannot read its capture again to follow its links "
                f"({err}); they are not captured",
                file=sys.stderr,
            )
            continue
        base = entry.get("final_url") or entry["url"]
        for c in find_urls_in_html(html, base):
            url = urldefrag(c.url)[0]
            if url in seen:
                continue
            seen.add(url)
            citation = {"document": base, "locator": c.locator, "cited_as": c.cited_as}
            found.append(
                Seed(
                    url=url,
                    citations=[citation],
                    hops=left - 1,
                    hop=int(entry.get("hop") or 0) + 1,
                    via=entry["url"],
                )
            )
    return found


def _write_summary(
    builder: Any, bag_info: list[tuple[str, str]], entries: list[dict[str, Any]], settings: Settings
) -> None:
    """The human-readable provenance summary goes into the payload, so the manifests cover it."""
    from archiver.bag.summary import render_summary

    facts = {**settings.to_dict(), "effective_user_agent": settings.effective_user_agent()}
    html, text = render_summary(bag_info, entries, facts)
    with builder.open_payload("provenance-summary.html") as f:
        f.write(html.encode("utf-8"))
    with builder.open_payload("provenance-summary.txt") as f:
        f.write(text.encode("utf-8"))


def _anchor(
    bag: Path,
    out: Path,
    entries: list[dict[str, Any]],
    settings: Settings,
    tsas: list[Any],
    options: RunOptions,
    started: datetime,
    ended: datetime,
) -> None:
    """After sealing: custody events, trusted timestamps, signature. Never unseals the bag.

    Each step is skipped when the custody log shows it done, so a run stopped half-way through
    these steps is completed by a re-run without doubling any event. A TSA that is down is
    reported with the command that retries it later; the bag is kept.
    """
    from archiver.attest import custody
    from archiver.attest.timestamp import timestamp_bag

    log = out / custody.LOG_NAME
    actor = settings.operator or "(not given)"
    done = custody.events_recorded(log, bag)
    _remove_temp_anchor_files(bag)
    details = {
        "urls": len(entries),
        "capture_start": utc_iso(started),
        "capture_end": utc_iso(ended),
    }
    if "captured" not in done:
        custody.append_event(log, "captured", bag=bag, actor=actor, details=details)
    if "sealed" not in done:
        custody.append_event(log, "sealed", bag=bag, actor=actor)
    if tsas and "timestamped" not in done:
        for result in timestamp_bag(bag, tsas, custody_log=log, actor=actor):
            if not result.ok:
                print(
                    f"  timestamp: {result.name} failed ({result.error}); add it later with "
                    f"`archiver timestamp {bag} --tsa ...`",
                    file=sys.stderr,
                )
    elif not tsas:
        print(
            "  no TSA configured: the bag has no trusted timestamp yet "
            f"(add one with `archiver timestamp {bag} --tsa NAME=URL,ROOT.pem`)",
            file=sys.stderr,
        )
    if options.sign_key and "signed" not in done:
        finish_signature(
            bag,
            Path(options.sign_key),
            org=settings.organisation or "",
            tsas=tsas,
            custody_log=log,
            actor=actor,
        )
    custody.copy_into_bag(log, bag)  # again: a crash may have come between an event and its copy


def _remove_temp_anchor_files(bag: Path) -> None:
    """Temporary files a crash left in ``provenance-anchors/`` (never anchors: not yet linked)."""
    from archiver.attest.anchors import ANCHORS_DIR, CHAINS_DIR

    for folder in (bag / ANCHORS_DIR, bag / ANCHORS_DIR / CHAINS_DIR):
        if folder.is_dir() and not folder.is_symlink():
            for tmp in folder.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)


def _recover_staging(builder: Any, entries: list[dict[str, Any]]) -> None:
    """Make an interrupted staging folder consistent with the capture journal ``entries``.

    A crash can leave a ``.warc.gz.open`` file (its complete records up to the last one the
    journal names are kept and it is closed; records after that belong to a URL that was not
    logged, which is captured again), a closed WARC whose digests were not journaled yet
    (hashed and recorded: its records are complete), a text cut off mid-write (removed), or a
    whole text whose URL was not logged (taken back: the URL is captured and cleaned again).
    """
    from archiver.warc.naming import final_name
    from archiver.warc.salvage import salvage_open_file

    logged_end: dict[str, int] = {}
    texts: set[str] = set()
    for entry in entries:
        for ref in entry.get("records") or []:
            try:
                end = int(ref["offset"]) + int(ref["length"])
            except (KeyError, TypeError, ValueError):
                continue
            name = str(ref.get("warc_file"))
            logged_end[name] = max(logged_end.get(name, 0), end)
        text = entry.get("text")
        if isinstance(text, dict):
            texts.update(str(text[k]) for k in ("path", "sidecar") if text.get(k))
    warc_dir = builder.staging / "data" / "warcs"
    if warc_dir.is_dir():
        for open_file in sorted(warc_dir.glob("*.open")):
            salvage_open_file(open_file, logged_end.get(final_name(open_file.name), 0))
    for rel in builder.unrecorded_files():
        if rel.startswith("warcs/") and rel.endswith((".warc.gz", ".warc")):
            builder.adopt_existing(rel)
        else:
            builder.discard(rel)
    for rel in builder.recorded:
        if rel.startswith("text/") and rel not in texts:
            builder.retract(rel)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _install_stop_handler(stop: threading.Event) -> Any:
    """First Ctrl-C/SIGTERM: finish URLs in flight, keep everything, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(
            "\narchiver: stopping after the URLs in flight (Ctrl-C again to abort)", file=sys.stderr
        )

    return (signal.signal(signal.SIGINT, handler), signal.signal(signal.SIGTERM, handler))


def _restore_stop_handler(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


__all__ = ["RunOptions", "run_command", "plan_run", "build_settings", "EXIT_RUN_FAILED"]
