"""What the operator asked `archiver run` for: the command line, as one record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # an annotation only: the cleaner's modules load where a run cleans
    from archiver.clean.workers import CleanLimits


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
    processes: int | None = None  # capture processes; None: one per core when worth it
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
    clean_limits: CleanLimits | None = None  # None: the documented defaults
    # Witnesses for dead links and save-now (docs/witnesses.md); None: the settings' value.
    no_witnesses: bool = False
    witness_timemaps: list[str] | None = None
    witness_availability: list[str] | None = None
    fetch_mementos: bool = False
    save_now: bool = False
    save_now_endpoint: str | None = None
