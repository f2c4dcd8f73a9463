"""Command line: parse arguments and hand each verb to its own module.

The capture and evidence verbs are here; the keep and hand-off verbs' arguments are in
``cli_keep`` and ``cli_handoff``, the shared option groups in ``cli_options``. Nothing here knows
how capturing, cleaning or bagging work. It turns ``ArchiverError`` into one
line on stderr with the error's exit code, and Ctrl-C into exit 130, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from collections.abc import Callable, Sequence

from archiver import __version__, commands
from archiver.base.errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.cli_handoff import HANDOFF_VERBS, add_handoff_verbs
from archiver.cli_keep import KEEP_VERBS, add_keep_verbs
from archiver.cli_options import (
    ArchiverParser,
    Subparsers,
    add_anchor_options,
    add_clean_options,
    add_identity_options,
    add_trust_options,
    size,
)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``verb`` only the part that parses that verb: building
    every verb's options was 3 ms of each start, for one verb used."""
    parser = ArchiverParser(
        prog="archiver",
        description="Preserve cited web pages as verifiable evidence.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"archiver {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    for names, add in _verbs():
        if verb is None or verb in names:
            add(verbs)
    return parser


def _verbs() -> tuple[tuple[tuple[str, ...], Callable[[Subparsers], None]], ...]:
    """Each group of verbs and what adds it, in the order ``archiver --help`` lists them."""
    return (
        (("urls",), _add_urls),
        (("run",), _add_run),
        (("verify",), _add_verify),
        (("check",), _add_check),
        (("custody",), _add_custody),
        (("timestamp",), _add_timestamp),
        (("sign",), _add_sign),
        (("keys",), _add_keys),
        (("clean",), _add_clean),
        (KEEP_VERBS, add_keep_verbs),
        (HANDOFF_VERBS, add_handoff_verbs),
    )


def _add_urls(sub: Subparsers) -> None:
    p = sub.add_parser("urls", help="print the URLs documents cite, with where they are cited")
    p.add_argument("documents", nargs="+", metavar="DOC", help="text, Markdown, HTML or PDF file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true", help="list every place a URL is cited")
    p.set_defaults(func=commands.cmd_urls)


def _add_run(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="capture, clean and bag everything the sources cite")
    p.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="a collection folder, a collection.toml, a local document, or a URL",
    )
    p.add_argument(
        "--due",
        metavar="DIR",
        help="run every collection under DIR whose schedule is due (docs/schedules.md)",
    )
    p.add_argument("--out", default="runs", help="folder that receives the bag (default: runs)")
    p.add_argument("--name", help="bag name (default: <collection>-<UTC time>)")
    p.add_argument("--hops", type=int, help="links to follow from documents given by URL (1)")
    _add_network_options(p)
    add_identity_options(p)
    add_trust_options(p)
    _add_witness_options(p)
    p.add_argument("--no-clean", action="store_true", help="skip text extraction")
    add_clean_options(p)
    p.add_argument(
        "--progress",
        choices=["auto", "live", "plain", "none"],
        default="auto",
        help="live display on a terminal, plain lines otherwise (auto)",
    )
    _add_output_options(p)
    p.set_defaults(func=commands.cmd_run)


def _add_network_options(p: argparse.ArgumentParser) -> None:
    net = p.add_argument_group("network")
    net.add_argument("--proxy", help="proxy URL: http://host:port or socks5h://host:port (Tor)")
    net.add_argument("--ca-bundle", help="PEM file of trusted CA certificates")
    net.add_argument(
        "--insecure", action="store_true", help="capture even if TLS verification fails (recorded)"
    )
    net.add_argument("--user-agent", help="override the User-Agent header")
    net.add_argument("--delay", type=float, help="seconds between requests to one host (1.0)")
    net.add_argument("--concurrency", type=int, help="hosts fetched at once (8)")
    net.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="capture processes, each with whole hosts (default: one per core and one, for runs of "
        "100+ URLs per process on several hosts; 1: one process)",
    )
    net.add_argument("--connect-timeout", type=float, help="seconds (10)")
    net.add_argument("--read-timeout", type=float, help="seconds (30)")
    net.add_argument("--max-time", type=float, help="total seconds per URL (120)")
    net.add_argument(
        "--max-size",
        type=size,
        metavar="SIZE",
        help="per response before truncating: bytes, or with a unit, e.g. 10MB, 500MiB (500MiB)",
    )
    net.add_argument(
        "--ignore-robots",
        metavar="REASON",
        help="do not honour robots.txt; the reason is recorded in the capture log and WARC",
    )
    net.add_argument(
        "--allow-private",
        action="store_true",
        help="also capture loopback, private and link-local addresses (your own intranet); "
        "refused by default, recorded",
    )


def _add_witness_options(p: argparse.ArgumentParser) -> None:
    w = p.add_argument_group("witnesses for dead links, save-now (docs/witnesses.md)")
    add = w.add_argument
    add("--no-witnesses", action="store_true", help="ask no web archive about dead URLs")
    add("--witness-timemap", action="append", metavar="URL", help="TimeMap endpoint(s)")
    add("--witness-availability", action="append", metavar="URL", help="availability API(s)")
    add("--fetch-mementos", action="store_true", help="also capture each closest memento")
    add("--save-now", action="store_true", help="submit captured URLs to save-now (opt-in)")
    add("--save-now-endpoint", metavar="URL", help="(https://web.archive.org/save/)")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output")
    out.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be captured and the settings in force; no network, nothing written",
    )
    out.add_argument(
        "--json", action="store_true", help="end with a machine-readable summary on stdout"
    )
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress or summary; warnings, errors and the bag path only",
    )
    out.add_argument(
        "--log", metavar="FILE", help="append progress lines and warnings, timestamped, to FILE"
    )


def _add_verify(sub: Subparsers) -> None:
    p = sub.add_parser("verify", help="check a bag: BagIt fixity, WARC digests, capture log")
    p.add_argument("bag", metavar="BAG")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--processes", type=int, help="hashing threads (default: all cores)")
    p.add_argument("--tsa-root", action="append", metavar="PEM", help="extra trusted TSA root")
    p.add_argument(
        "--trusted-key", action="append", metavar="PEM", help="public key the signer must match"
    )
    p.add_argument("--custody-log", help="custody log to check the bag's copy against")
    p.add_argument(
        "--record", action="store_true", help="append a 'verified' event to the custody log"
    )
    p.add_argument("--actor", help="who verified (recorded with --record)")
    p.set_defaults(func=commands.cmd_verify)


def _add_check(sub: Subparsers) -> None:
    p = sub.add_parser(
        "check", help="check WARC (or ARC) files outside a bag: framing, headers, digests"
    )
    p.add_argument("warcs", nargs="+", metavar="WARC")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=commands.cmd_check)


def _add_custody(sub: Subparsers) -> None:
    p = sub.add_parser("custody", help="record hand-offs and check the custody log")
    cust = p.add_subparsers(dest="custody_verb", metavar="ACTION")
    cust.required = True
    c = cust.add_parser("record", help="record an event for a sealed bag (e.g. exported)")
    c.add_argument("bag", metavar="BAG")
    c.add_argument("event", choices=["exported", "received", "verified", "acknowledged"])
    c.add_argument("--custody-log", help="custody log (default: beside the bag)")
    c.add_argument("--actor", help="who did it")
    c.add_argument("--note", help="free text, e.g. the receiving library and its reference")
    c.add_argument("--receipt", metavar="FILE", help="the receiver's receipt (acknowledged)")
    c.add_argument(
        "--receiver-key", metavar="PEM", help="the receiver's public key; the .sig must verify"
    )
    c.set_defaults(func=commands.cmd_custody_record)
    c = cust.add_parser("check", help="check a custody log's hash chain")
    c.add_argument("log", metavar="LOG")
    c.set_defaults(func=commands.cmd_custody_check)
    c = cust.add_parser(
        "repair", help="cut off a torn last line (kept in a side file) and record the repair"
    )
    c.add_argument("log", metavar="LOG")
    c.add_argument("--actor", help="who is repairing it (recorded)")
    c.set_defaults(func=commands.cmd_custody_repair)


def _add_timestamp(sub: Subparsers) -> None:
    p = sub.add_parser("timestamp", help="add RFC 3161 timestamps to a sealed bag")
    p.add_argument("bag", metavar="BAG")
    add_anchor_options(p)
    p.add_argument(
        "--renew",
        action="store_true",
        help="timestamp a renewal statement over the tag manifests and every earlier token "
        "(RFC 4998 style; docs/provenance.md)",
    )
    p.set_defaults(func=commands.cmd_timestamp)


def _add_sign(sub: Subparsers) -> None:
    p = sub.add_parser("sign", help="sign a sealed bag (Ed25519) and timestamp the signature")
    p.add_argument("bag", metavar="BAG")
    p.add_argument("--key", required=True, metavar="KEY.pem", help="private key file")
    p.add_argument("--org", default="", help="organisation named in the signed statement")
    add_anchor_options(p)
    p.set_defaults(func=commands.cmd_sign)


def _add_keys(sub: Subparsers) -> None:
    p = sub.add_parser("keys", help="manage signing keys")
    keys = p.add_subparsers(dest="keys_verb", metavar="ACTION")
    keys.required = True
    k = keys.add_parser("new", help="make an Ed25519 key pair (the private key never enters a bag)")
    k.add_argument("--out", default=".", help="folder for the key files (default: .)")
    k.add_argument("--name", default="archiver-signing", help="file name stem")
    k.set_defaults(func=commands.cmd_keys_new)


def _add_clean(sub: Subparsers) -> None:
    p = sub.add_parser("clean", help="extract text from the HTML and PDF records of WARCs")
    p.add_argument("warcs", nargs="+", metavar="WARC")
    p.add_argument("--out", required=True, help="folder for the .txt and .json files")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_clean_options(p)
    p.set_defaults(func=commands.cmd_clean)


def _leave_objects_to_the_os() -> None:
    """At exit, the OS takes back the interpreter's memory at once, not object by object.

    The interpreter's teardown frees every module's classes, functions and other cyclic objects
    one at a time: ~40 ms after a run's last line is written, on one core (bench/capture cli).
    Frozen at exit, after every atexit handler registered later, the collector leaves them to
    the OS. Nothing waits on that teardown: archiver closes and fsyncs its own files.
    """
    atexit.register(gc.freeze)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the whole process is archiver's (console script, python -m archiver)
        _leave_objects_to_the_os()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a new user typing `archiver`: show what it can do, not an argparse error
        build_parser().print_help()
        return EXIT_USAGE
    known = any(argv[0] in names for names, _ in _verbs())
    args = build_parser(argv[0] if known else None).parse_args(argv)
    try:
        return int(args.func(args))
    except ArchiverError as err:
        print(f"archiver: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("archiver: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `archiver urls ... | head`: the reader left, nothing went wrong
        return 0
    except OSError as err:
        # Disk full, permission denied, ...: name the file and stop cleanly.
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"archiver: {err.strerror or err}{where}", file=sys.stderr)
        return EXIT_RUN_FAILED if args.verb == "run" else EXIT_USAGE
    except Exception as err:
        # A bug, not bad input. Never exit 1 here: for `verify` that would mean "invalid bag".
        if os.environ.get("ARCHIVER_DEBUG"):
            raise
        print(
            f"archiver: internal error: {type(err).__name__}: {err} "
            "(please report it; set ARCHIVER_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED if args.verb == "run" else EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
