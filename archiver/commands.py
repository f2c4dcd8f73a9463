"""The verbs' hand-off: each command-line verb, parsed by ``archiver.cli``, calls its stage.

Each function imports its stage inside itself, and only there: `archiver --help` and a verb that
needs no network or extractor libraries then start without loading requests, trafilatura or
cryptography. These are the only in-function archiver imports in the package.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.base.errors import (
    EXIT_INTERRUPTED,
    EXIT_MEANINGS,
    EXIT_OK,
    EXIT_USAGE,
    ArchiverError,
)

if TYPE_CHECKING:  # for annotations only: the verbs import their stage when they run
    from archiver.clean.workers import CleanLimits
    from archiver.run.options import RunOptions


def cmd_import(args: argparse.Namespace) -> int:
    """`archiver import`: the run's identity and trust options, applied to another tool's WARCs."""
    from archiver.run.importing import import_command
    from archiver.run.options import RunOptions

    who = "operator organisation contact_name contact_email tsa sign_key json"
    who += " trust_collection_settings"
    options = RunOptions(sources=list(args.inputs), out=Path(args.out), clean=not args.no_clean)
    for key in who.split():
        setattr(options, key, getattr(args, key))
    return import_command(options, args.collection)


def cmd_urls(args: argparse.Namespace) -> int:
    from archiver.collect.command import urls_command

    return urls_command(list(args.documents), as_json=args.json, show_all=args.all)


def cmd_run(args: argparse.Namespace) -> int:
    from archiver.run.command import run_command
    from archiver.run.options import RunOptions

    options = RunOptions(
        sources=list(args.sources),
        out=Path(args.out),
        hops=args.hops,
        proxy=args.proxy,
        ca_bundle=args.ca_bundle,
        insecure=args.insecure,
        operator=args.operator,
        organisation=args.organisation,
        contact_name=args.contact_name,
        contact_email=args.contact_email,
        user_agent=args.user_agent,
        per_host_delay=args.delay,
        concurrency=args.concurrency,
        processes=args.processes,
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
        max_time_per_url=args.max_time,
        max_size=args.max_size,
        ignore_robots=args.ignore_robots,
        allow_private=args.allow_private,
        clean=not args.no_clean,
        progress=args.progress,
        name=args.name,
        tsa=args.tsa,
        sign_key=args.sign_key,
        trust_collection_settings=args.trust_collection_settings,
        dry_run=args.dry_run,
        json=args.json,
        quiet=args.quiet,
        log=args.log,
        clean_limits=clean_limits(args),
        no_witnesses=args.no_witnesses,
        witness_timemaps=args.witness_timemap,
        witness_availability=args.witness_availability,
        fetch_mementos=args.fetch_mementos,
        save_now=args.save_now,
        save_now_endpoint=args.save_now_endpoint,
    )
    if args.due or not options.sources:
        return _run_due(args, options)
    if not options.json:
        return run_command(options)
    # --json: stdout always ends with one JSON object, also when the run could not be done.
    try:
        code = run_command(options)
    except ArchiverError as err:
        print(json_failure(err.exit_code, str(err)))
        raise
    if code != EXIT_OK:
        print(json_failure(code, "interrupted" if code == EXIT_INTERRUPTED else ""))
    return code


def _run_due(args: argparse.Namespace, options: RunOptions) -> int:
    from archiver.run.due import run_due

    if not args.due or options.sources:
        raise ArchiverError(
            "run: give SOURCE... or --due DIR, not both and not neither", EXIT_USAGE
        )
    return run_due(Path(args.due), options)


def cmd_schedule(args: argparse.Namespace) -> int:
    from archiver.keep.schedule import schedule_command

    return schedule_command(Path(args.dir), Path(args.out), args.json)


def clean_limits(args: argparse.Namespace) -> CleanLimits:
    """--clean-memory/--clean-timeout/--clean-workers -> CleanLimits (command line only: a
    collection file can never loosen the caps that contain a hostile payload)."""
    from archiver.clean.workers import MIN_MEMORY, CleanLimits, format_memory, parse_memory

    limits = CleanLimits()
    memory, timeout, workers = limits.memory, limits.timeout, limits.workers
    if args.clean_memory is not None:
        try:
            memory = parse_memory(args.clean_memory)
        except ValueError as err:
            raise ArchiverError(f"--clean-memory {err}", EXIT_USAGE) from None
        if memory < MIN_MEMORY:
            raise ArchiverError(
                f"--clean-memory {args.clean_memory}: give at least {format_memory(MIN_MEMORY)}",
                EXIT_USAGE,
            )
    if args.clean_timeout is not None:
        timeout = args.clean_timeout
        if not timeout > 0:
            raise ArchiverError(f"--clean-timeout {timeout:g}: give seconds above 0", EXIT_USAGE)
    if args.clean_workers is not None:
        workers = args.clean_workers
        if workers < 1:
            raise ArchiverError(f"--clean-workers {workers}: give 1 or more", EXIT_USAGE)
    return CleanLimits(memory=memory, timeout=timeout, workers=workers)


def cmd_verify(args: argparse.Namespace) -> int:
    from archiver.verify.command import verify_command

    return verify_command(
        Path(args.bag),
        as_json=args.json,
        processes=args.processes,
        tsa_roots=[Path(p) for p in args.tsa_root or []],
        trusted_keys=[Path(p) for p in args.trusted_key or []],
        custody_log=Path(args.custody_log) if args.custody_log else None,
        record=args.record,
        actor=args.actor or "",
    )


def cmd_check(args: argparse.Namespace) -> int:
    from archiver.warc.command import check_command

    return check_command([Path(p) for p in args.warcs], as_json=args.json)


def cmd_custody_record(args: argparse.Namespace) -> int:
    from archiver.attest.custodycommand import record_command

    return record_command(
        Path(args.bag),
        args.event,
        log=Path(args.custody_log) if args.custody_log else None,
        actor=args.actor or "",
        note=args.note,
        receipt=Path(args.receipt) if args.receipt else None,
        receiver_key=Path(args.receiver_key) if args.receiver_key else None,
    )


def cmd_custody_check(args: argparse.Namespace) -> int:
    from archiver.attest.custodycommand import check_command

    return check_command(Path(args.log))


def cmd_custody_repair(args: argparse.Namespace) -> int:
    from archiver.attest.custodycommand import repair_command

    return repair_command(Path(args.log), actor=args.actor or "")


def cmd_clean(args: argparse.Namespace) -> int:
    from archiver.clean.command import clean_command

    return clean_command(
        [Path(p) for p in args.warcs],
        Path(args.out),
        as_json=args.json,
        limits=clean_limits(args),
    )


def cmd_keys_new(args: argparse.Namespace) -> int:
    from archiver.attest.keys import keys_new_command

    return keys_new_command(Path(args.out), args.name)


def cmd_timestamp(args: argparse.Namespace) -> int:
    from archiver.attest.renewal import renew_command
    from archiver.attest.timestamp import timestamp_command
    from archiver.attest.tsa import tsas_from_options

    command = renew_command if args.renew else timestamp_command
    return command(
        Path(args.bag),
        tsas_from_options(args.tsa),
        timeout=args.timeout,
        as_json=args.json,
        custody_log=Path(args.custody_log) if args.custody_log else None,
        actor=args.actor or "",
    )


def cmd_sign(args: argparse.Namespace) -> int:
    from archiver.attest.signing import sign_command
    from archiver.attest.tsa import tsas_from_options

    return sign_command(
        Path(args.bag),
        Path(args.key),
        org=args.org,
        tsas=tsas_from_options(args.tsa),
        timeout=args.timeout,
        as_json=args.json,
        custody_log=Path(args.custody_log) if args.custody_log else None,
        actor=args.actor or "",
    )


def json_failure(code: int, error: str) -> str:
    """The --json summary of a run that ended without a bag."""
    return json.dumps(
        {"bag": None, "exit_code": code, "meaning": EXIT_MEANINGS.get(code, ""), "error": error}
    )


def cmd_report(args: argparse.Namespace) -> int:
    from archiver.keep.report import report_command

    html_file = Path(args.html) if args.html else None
    return report_command(
        args.collection, Path(args.out), args.since, as_json=args.json, html_file=html_file
    )


def cmd_catalog_rebuild(args: argparse.Namespace) -> int:
    from archiver.keep.history import rebuild_command

    return rebuild_command(Path(args.dir), args.catalog)


def cmd_catalog_add(args: argparse.Namespace) -> int:
    from archiver.keep.history import add_command

    return add_command(Path(args.bag), args.catalog)


def cmd_history(args: argparse.Namespace) -> int:
    from archiver.keep.history import history_command

    return history_command(args.url, args.catalog, args.json)


def cmd_audit(args: argparse.Namespace) -> int:
    from archiver.attest.tsa import tsas_from_options
    from archiver.keep.audit import parse_share
    from archiver.keep.auditcommand import AuditOptions, audit_command

    opts = AuditOptions(
        share=parse_share(args.share) if args.share is not None else None,
        catalog=args.catalog,
        expiring_within=args.expiring_within,
        renew=args.renew,
        tsas=tsas_from_options(args.tsa) if args.renew or args.tsa else [],
        tsa_roots=[Path(p) for p in args.tsa_root or []],
        timeout=args.timeout,
        actor=args.actor or "",
    )
    return audit_command(Path(args.dir), opts, as_json=args.json)


def cmd_init(args: argparse.Namespace) -> int:
    from archiver.run.init import Identity, init_command

    identity = Identity(
        operator=args.operator or "",
        organisation=args.organisation or "",
        contact_name=args.contact_name or "",
        contact_email=args.contact_email or "",
        tsa=list(args.tsa or []),
    )
    return init_command(identity, force=args.force)


def cmd_profile_check(args: argparse.Namespace) -> int:
    from archiver.export.profilecheck import profile_check_command

    return profile_check_command(args.bag, args.profile)


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "wacz":
        from archiver.export.wacz import export_wacz_command

        if args.profile or args.set:
            raise ArchiverError("export --format wacz takes no --profile or --set", EXIT_USAGE)
        key = Path(args.sign_key) if args.sign_key else None
        return export_wacz_command(Path(args.bag), Path(args.out) if args.out else None, key)
    from archiver.export.bagexport import export_command

    if args.sign_key:
        raise ArchiverError("export: --sign-key is for --format wacz only", EXIT_USAGE)
    out = Path(args.out or ".")
    return export_command(Path(args.bag), args.profile or "ours", args.format, out, args.set)


def cmd_receive(args: argparse.Namespace) -> int:
    from archiver.export.receive import receive_command

    return receive_command(Path(args.path), Path(args.into), args.profile, max_bytes=args.max_size)
