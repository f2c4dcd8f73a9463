"""Planning a run: sources (documents, collections, URLs) into seeds, and the warcinfo fields."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.attest.tsa import TsaConfig, tsas_from_table
from archiver.base.errors import (
    EXIT_USAGE,
    ArchiverError,
)
from archiver.base.facts import warcinfo_facts
from archiver.base.settings import Settings
from archiver.collect.documents import find_urls
from archiver.collect.normalize import normalize_url
from archiver.collect.seeds import Citation, Seed


@dataclass
class RunPlan:
    """What a run will capture, worked out before any network access."""

    name: str
    description: str
    seeds: dict[str, Seed]
    local_documents: list[tuple[str, Path]]  # (name under data/sources/, file)
    collection_toml: Path | None
    overrides: dict[str, Any]
    curator_name: str = ""
    curator_email: str = ""
    organisation: str = ""
    tsas: list[TsaConfig] = field(default_factory=list)  # the collection's [[tsa]] tables
    collection_record: str = ""  # which collection settings applied / were ignored (warcinfo)

    def fingerprint(self) -> str:
        """Same sources -> same fingerprint: how a re-run finds the run it should resume."""
        h = hashlib.sha256()
        for url in sorted(self.seeds):
            h.update(url.encode() + b"\n")
        for _, doc in self.local_documents:
            h.update(str(doc.resolve()).encode() + b"\n")
        return h.hexdigest()[:16]


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


@dataclass
class _Sources:
    """What the SOURCE arguments add up to, gathered one source at a time."""

    seeds: dict[str, Seed] = field(default_factory=dict)
    local_docs: list[tuple[str, Path]] = field(default_factory=list)  # (name in bag, file)
    names: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    collection_toml: Path | None = None
    tsas: list[TsaConfig] = field(default_factory=list)
    curator_name: str = ""
    curator_email: str = ""
    organisation: str = ""

    def add(self, url: str, hops: int, citation: Citation | None) -> None:
        norm = normalize_url(url)
        if norm is None:
            raise ArchiverError(f"{url}: not an http(s) URL that can be captured", EXIT_USAGE)
        seed = self.seeds.setdefault(norm, Seed(norm, hops))
        seed.hops = max(seed.hops, hops)
        if citation and citation not in seed.citations:
            seed.citations.append(citation)

    def add_document_file(self, path: Path) -> None:
        # Citations name the document as it is kept in the bag (data/sources/NAME), not the
        # operator's local path, so the log reads the same on any machine.
        taken = {name for name, _ in self.local_docs}
        # Receivers' tools mishandle '%' and control characters in bag paths (bagit-python #157):
        # keep letters, digits, '.', '_', '-' and replace the rest. The original stays in the log.
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in path.name)
        safe = safe.lstrip(".") or "document"
        stem, suffix = os.path.splitext(safe)
        name, n = safe, 1
        while name in taken:  # two documents called report.pdf from different folders
            n += 1
            name = f"{stem}-{n}{suffix}"
        self.local_docs.append((name, path))
        in_bag = f"sources/{name}"
        for c in find_urls(path):
            locator = c.locator
            if locator.startswith(c.document):
                locator = in_bag + locator[len(c.document) :]
            self.add(c.url, 0, Citation(in_bag, locator, c.cited_as))

    def add_collection(self, source: str, path: Path, default_hops: int | None) -> None:
        if self.collection_toml is not None:
            raise ArchiverError(
                f"{source}: one collection per run (bag each collection separately)", EXIT_USAGE
            )
        # Imported here: reading a collection.toml (tomllib, zoneinfo, difflib: ~5 ms) is for
        # collection runs only, not for a run of documents or URLs.
        from archiver.collect.collection import load_collection

        coll = load_collection(path)
        try:
            self.tsas = tsas_from_table(
                coll.tsa_tables, base=coll.toml_path.parent, refuse_private=True
            )
        except ArchiverError as exc:
            raise ArchiverError(f"{coll.toml_path}: {exc}", EXIT_USAGE) from exc
        self.collection_toml = coll.toml_path
        self.names.append(coll.name)
        self.descriptions.append(coll.description or coll.title or coll.name)
        self.overrides.update(coll.capture_overrides)
        self.curator_name = coll.curator.name or self.curator_name
        self.curator_email = coll.curator.email or self.curator_email
        self.organisation = coll.organisation or self.organisation
        coll_hops = default_hops if default_hops is not None else self.overrides.get("hops")
        for doc in coll.documents:
            hops = doc.hops if doc.hops is not None else coll_hops
            if doc.url:
                citation = Citation("collection.toml", "document", doc.cited_as)
                self.add(doc.url, 1 if hops is None else hops, citation)
            if doc.file is not None:
                self.add_document_file(doc.file)
        for extra in coll.extra_urls:
            citation = Citation(
                extra.cited_in or "collection.toml",
                extra.locator or "url",
                extra.cited_as or extra.url,
            )
            self.add(extra.url, 0, citation)


def plan_run(sources: list[str], default_hops: int | None) -> RunPlan:
    """Turn the SOURCE arguments into seeds with citations; fail early on bad input."""
    found = _Sources()
    for source in sources:
        if _is_url(source):
            found.add(source, 1 if default_hops is None else default_hops, None)
            found.names.append(urlsplit(source).hostname or "url")
            continue
        path = Path(source)
        if not path.exists():
            raise ArchiverError(
                f"{source}: no such file or folder (give a collection folder, a collection.toml, "
                "a document, or an http(s) URL)",
                EXIT_USAGE,
            )
        if path.is_dir() or path.suffix.lower() == ".toml":  # a collection definition
            found.add_collection(source, path, default_hops)
        else:
            found.add_document_file(path)
            found.names.append(path.stem)
            found.descriptions.append(f"URLs cited by {path.name}")
    if not found.seeds:
        raise ArchiverError("the sources cite no http(s) URLs: nothing to capture", EXIT_USAGE)
    name = _safe_name("+".join(dict.fromkeys(found.names))[:60] or "run")
    return RunPlan(
        name=name,
        description="; ".join(found.descriptions) or "web capture",
        seeds=found.seeds,
        local_documents=found.local_docs,
        collection_toml=found.collection_toml,
        overrides=found.overrides,
        curator_name=found.curator_name,
        curator_email=found.curator_email,
        organisation=found.organisation,
        tsas=found.tsas,
    )


def _safe_name(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)
    return keep.strip("-.") or "run"


def warcinfo_fields(settings: Settings, plan: RunPlan) -> dict[str, str]:
    robots = (
        "obey"
        if settings.respect_robots
        else f"ignore (override reason: {settings.robots_override_reason})"
    )

    run_wide = warcinfo_facts(settings)
    return {
        "software": run_wide.pop("software"),
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        # `archiver run` requires who captures (run.settings.require_identity); only a
        # --dry-run plan can still lack it.
        "operator": settings.operator or settings.contact_name or "(not given)",
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
