"""``archiver run``: sources -> cited URLs -> WARC capture -> clean text -> one sealed BagIt bag.

The bag is assembled in a staging folder beside its final name and renamed into place only when
complete. Everything is written once: WARCs, texts and sidecars go straight into the staging
payload through hashing writers, so sealing never re-reads the payload. An interrupted run leaves
its staging folder, journal and closed WARCs; running the same command again resumes it and only
captures the URLs that are not done yet.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import SOFTWARE
from archiver.attest import custody
from archiver.attest.tsa import TsaConfig, tsas_from_options
from archiver.bag.info import bag_info_fields
from archiver.bag.profile import copy_profile_into
from archiver.bag.writer import BagBuilder
from archiver.base import faults
from archiver.base.errors import (
    EXIT_INTERRUPTED,
    EXIT_MEANINGS,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    ArchiverError,
)
from archiver.base.fsutil import write_json_atomic
from archiver.base.settings import Settings
from archiver.base.timefmt import compact, parse_iso, utc_iso
from archiver.capture.log import LOG_NAME, read_entries
from archiver.run.capturing import capture_into
from archiver.run.console import (
    print_plan,
    print_result,
    run_output,
)
from archiver.run.finish import SUMMARY_FILES, anchor, write_summary
from archiver.run.options import RunOptions
from archiver.run.plan import RunPlan, plan_run
from archiver.run.sealpass import SealPass
from archiver.run.settings import build_settings, require_identity
from archiver.run.sink import Runner
from archiver.run.state import (
    JOURNAL_SUFFIX,
    STATE_SUFFIX,
    check_bag_name,
    clean_up_state,
    find_resumable,
    is_sealed_run,
    lock_run,
    run_file,
)
from archiver.run.usersettings import load_user_settings, user_tsas


def run_command(options: RunOptions) -> int:
    """``archiver run``; with --log/--quiet, stderr goes through a ``LogTee`` for the run."""
    with run_output(options) as tee:
        code = _run_command(options)
        if tee is not None:
            tee.log_text(f"archiver: run ended with exit code {code} ({EXIT_MEANINGS[code]})\n")
        return code


@dataclass
class _Run:
    """A run under way: its name, lock, state and staging bag (new or resumed)."""

    out: Path
    name: str
    run_id: str
    started: datetime
    state: dict[str, Any]
    lock: Any
    builder: BagBuilder | None = None  # None: the bag was sealed before an interruption


def _run_command(options: RunOptions) -> int:
    plan, settings, tsas = _prepare(options)
    if options.dry_run:
        return print_plan(plan, settings, tsas, options)
    _check_out(options.out)
    run = _open_run(options, plan)
    try:
        if run.builder is None:
            return _finish_sealed(run.out, run.name, run.state, settings, tsas, options)
        runner = capture_into(run.out, run.name, run.builder, plan, settings, options)
        if runner is None:
            return EXIT_INTERRUPTED
        return _seal(run, run.builder, runner, plan.description, settings, tsas, options)
    finally:
        run.lock.close()  # released on every path, also when the run fails


def _prepare(options: RunOptions) -> tuple[RunPlan, Settings, list[TsaConfig]]:
    """Plan, settings, TSAs and signing key: all checked before anything is written."""
    # --hops, else the user settings file's hops, beat a collection's [capture] hops.
    plan = plan_run(
        options.sources,
        options.hops if options.hops is not None else load_user_settings().settings.get("hops"),
    )
    settings = build_settings(plan, options)
    if not options.dry_run:
        require_identity(settings)
    # --tsa, else ARCHIVER_TSA, else the collection's [[tsa]] tables, else the operator's
    # default [[tsa]] in the settings file; checked before capturing.
    tsas = tsas_from_options(options.tsa) or plan.tsas or user_tsas()
    if settings.allow_private:  # the operator's opt-in covers a collection's TSA URLs too
        tsas = [dataclasses.replace(t, refuse_private=False) for t in tsas]
    options.sign_key = options.sign_key or os.environ.get("ARCHIVER_SIGN_KEY") or None
    if options.sign_key and not Path(options.sign_key).is_file():
        raise ArchiverError(
            f"{options.sign_key}: signing key not found (--sign-key or ARCHIVER_SIGN_KEY)",
            EXIT_USAGE,
        )
    return plan, settings, tsas


def _check_out(out: Path) -> None:
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


def _open_run(options: RunOptions, plan: RunPlan) -> _Run:
    """The interrupted run of the same sources to resume, else a new one (state written first)."""
    out = options.out
    fingerprint = plan.fingerprint()
    state = find_resumable(out, fingerprint)
    started = datetime.now(UTC)
    if state is not None:
        name = state["name"]
        run = _Run(out, name, state["run_id"], started, state, lock_run(out, name))
        run.started = parse_iso(state["started"]) or started
        if is_sealed_run(out / name, run.run_id):
            return run
        try:
            if (out / f".{name}.partial").is_dir():
                run.builder = BagBuilder.resume(out / name)
            else:  # stopped before the staging folder was made
                run.builder = BagBuilder(out / name)
        except BaseException:
            run.lock.close()
            raise
        print(f"archiver: resuming interrupted run {name}", file=sys.stderr)
        return run
    name = check_bag_name(options.name or f"{plan.name}-{compact(started)}")
    if (out / name).exists():
        raise ArchiverError(f"{out / name}: already exists; a sealed bag is never overwritten")
    lock = lock_run(out, name)
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
    write_json_atomic(run_file(out, name, STATE_SUFFIX), state)
    try:
        builder = BagBuilder(out / name)
    except BaseException:  # e.g. another run's staging folder under that name: not ours
        run_file(out, name, STATE_SUFFIX).unlink(missing_ok=True)
        lock.close()
        raise
    return _Run(out, name, run_id, started, state, lock, builder)


def _seal(
    run: _Run,
    builder: BagBuilder,
    runner: Runner,
    description: str,
    settings: Settings,
    tsas: list[TsaConfig],
    options: RunOptions,
) -> int:
    """Capture log and summary into the payload, seal, then custody, timestamps, signature."""
    # The end of capture is fixed once: a seal that failed (disk full) and is retried by a
    # re-run writes the same capture log, summary and bag-info facts.
    if "ended" not in run.state:
        run.state["ended"] = utc_iso(datetime.now(UTC))
        write_json_atomic(run_file(run.out, run.name, STATE_SUFFIX), run.state)
    ended = parse_iso(run.state["ended"]) or datetime.now(UTC)
    journal = run_file(run.out, run.name, JOURNAL_SUFFIX)
    bag_info = bag_info_fields(settings, description, run.run_id, run.started, ended)
    unwritten = any(name not in builder.recorded for name in SUMMARY_FILES)
    with SealPass(run.out, run.run_id, summary=unwritten) as sealing:
        sealing.copy_log(journal, builder)  # the journal's one read
        if sealing.summary is not None:
            write_summary(builder, bag_info, sealing.summary, settings)
            faults.point("run.summary-written")
        try:
            copy_profile_into(builder.staging)
            bag_path = builder.seal(bag_info)
        except OSError as err:
            raise ArchiverError(
                f"{builder.staging}: could not seal the bag ({err.strerror}); everything is "
                "kept: free space and run the same command again",
                EXIT_RUN_FAILED,
            ) from err
        # The run's state stays until every step after sealing is done: a re-run finishes them.
        outcomes = sealing.outcomes
        urls = sum(outcomes.values())
        anchor(bag_path, run.out, urls, settings, tsas, options, run.started, ended,
               captures=sealing.catalog)  # fmt: skip
    assert runner.progress is not None
    for line in runner.progress.summary_lines():
        print(line, file=sys.stderr)
    if runner.text_errors:
        print(
            f"  {runner.text_errors} texts could not be extracted (see capture log)",
            file=sys.stderr,
        )
    faults.point("run.before-cleanup")
    clean_up_state(run.out, run.name)
    print_result(bag_path, outcomes, runner.text_errors, options)
    return EXIT_OK


def _finish_sealed(
    out: Path,
    name: str,
    state: dict[str, Any],
    settings: Settings,
    tsas: list[TsaConfig],
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
    outcomes = Counter(str(e.outcome) for e in read_entries(bag / "data" / LOG_NAME))
    started = parse_iso(state.get("started")) or datetime.now(UTC)
    ended = parse_iso(state.get("ended")) or started
    anchor(bag, out, sum(outcomes.values()), settings, tsas, options, started, ended)
    faults.point("run.before-cleanup")
    clean_up_state(out, name)
    print_result(bag, outcomes, 0, options)
    return EXIT_OK
