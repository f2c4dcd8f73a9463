"""Command line: parse arguments and hand each verb to its own module.

Nothing here knows how capturing, cleaning or bagging work. It turns ``ArchiverError`` into one
line on stderr with the error's exit code, and Ctrl-C into exit 130, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Sequence

from archiver import __version__, commands
from archiver.base.errors import (
    EXIT_INTERRUPTED,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    ArchiverError,
)
from archiver.base.settings import parse_size


def _add_clean_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cleaning limits, per payload (docs/clean.md)")
    g.add_argument(
        "--clean-memory",
        metavar="SIZE",
        help="memory a cleaning process may use for one page or PDF, e.g. 1GiB, 300MiB (1GiB)",
    )
    g.add_argument(
        "--clean-timeout", type=float, metavar="SECONDS", help="time to clean one payload (60)"
    )
    g.add_argument(
        "--clean-workers", type=int, metavar="N", help="cleaning processes (one per core)"
    )


TSA_HELP = (
    "time-stamping authority as NAME=URL,ROOT.pem[,ROOT2.pem]; repeat for each TSA "
    "(default: ARCHIVER_TSA)"
)


def _size(text: str) -> int:
    """argparse type for byte sizes: 10MB, 500MiB, 1234."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_anchor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tsa", action="append", metavar="NAME=URL,ROOT.pem", help=TSA_HELP)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per TSA (30)")
    p.add_argument("--custody-log", help="custody log to append to (default: beside the bag)")
    p.add_argument("--actor", help="who is doing this (recorded in the custody log)")
    p.add_argument("--json", action="store_true", help="machine-readable result")


class _Parser(argparse.ArgumentParser):
    """argparse with archiver's error format: one line naming the problem, then exit 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"archiver: {message} (see `{self.prog} --help`)\n")


Subparsers: typing.TypeAlias = "argparse._SubParsersAction[_Parser]"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="archiver",
        description="Preserve cited web pages as verifiable evidence.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"archiver {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    _add_urls(verbs)
    _add_run(verbs)
    _add_import(verbs)
    _add_schedule(verbs)
    _add_verify(verbs)
    _add_check(verbs)
    _add_custody(verbs)
    _add_timestamp(verbs)
    _add_sign(verbs)
    _add_keys(verbs)
    _add_clean(verbs)
    _add_report(verbs)
    _add_catalog(verbs)
    _add_history(verbs)
    return parser


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
    _add_identity_options(p)
    _add_trust_options(p)
    _add_witness_options(p)
    p.add_argument("--no-clean", action="store_true", help="skip text extraction")
    _add_clean_options(p)
    p.add_argument(
        "--progress",
        choices=["auto", "live", "plain", "none"],
        default="auto",
        help="live display on a terminal, plain lines otherwise (auto)",
    )
    _add_output_options(p)
    p.set_defaults(func=commands.cmd_run)


def _add_import(sub: Subparsers) -> None:
    p = sub.add_parser("import", help="seal other tools' WARC/WACZ captures into a verified bag")
    p.add_argument("inputs", nargs="+", metavar="WARC|WACZ")
    p.add_argument("--collection", help="collection folder or name the bag belongs to (import)")
    p.add_argument("--out", default="runs", help="folder that receives the bag (default: runs)")
    p.add_argument("--no-clean", action="store_true", help="skip text extraction")
    p.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    _add_identity_options(p)
    _add_trust_options(p)
    p.set_defaults(func=commands.cmd_import)


def _add_schedule(sub: Subparsers) -> None:
    p = sub.add_parser("schedule", help="list collection schedules and how to install the timer")
    p.add_argument("dir", metavar="DIR", help="folder whose subfolders hold collection.toml files")
    p.add_argument("--out", default="runs", help="folder that holds the bags (default: runs)")
    p.add_argument("--json", action="store_true", help="machine-readable listing")
    p.set_defaults(func=commands.cmd_schedule)


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
    net.add_argument("--connect-timeout", type=float, help="seconds (10)")
    net.add_argument("--read-timeout", type=float, help="seconds (30)")
    net.add_argument("--max-time", type=float, help="total seconds per URL (120)")
    net.add_argument(
        "--max-size",
        type=_size,
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


def _add_identity_options(p: argparse.ArgumentParser) -> None:
    who = p.add_argument_group("who is capturing (recorded in the WARCs and the bag)")
    who.add_argument("--operator", help="person or role running the capture")
    who.add_argument("--organisation", help="Source-Organization for bag-info.txt")
    who.add_argument("--contact-name", help="Contact-Name for bag-info.txt")
    who.add_argument("--contact-email", help="contact email (also sent in User-Agent and From)")


def _add_trust_options(p: argparse.ArgumentParser) -> None:
    trust = p.add_argument_group("trusted time and signature (docs/provenance.md)")
    trust.add_argument("--tsa", action="append", metavar="NAME=URL,ROOT.pem", help=TSA_HELP)
    trust.add_argument("--sign-key", metavar="KEY.pem", help="Ed25519 key to sign the bag with")
    trust.add_argument(
        "--trust-collection-settings",
        action="store_true",
        help="use the collection's proxy, TLS, robots.txt, identity and [[tsa]] settings "
        "(otherwise ignored with a warning; docs/collections.md)",
    )


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


def _add_catalog(sub: Subparsers) -> None:
    p = sub.add_parser("catalog", help="the capture history index (docs/catalog.md)")
    v = p.add_subparsers(dest="catalog_verb", required=True, metavar="VERB")
    r = v.add_parser("rebuild", help="rebuild the catalog from every sealed bag under DIR")
    r.add_argument("dir", metavar="DIR")
    a = v.add_parser("add", help="add one sealed bag (made elsewhere) to the catalog")
    a.add_argument("bag", metavar="BAG")
    for q in (r, a):
        q.add_argument("--catalog", metavar="PATH", help=CATALOG_HELP)
    r.set_defaults(func=commands.cmd_catalog_rebuild)
    a.set_defaults(func=commands.cmd_catalog_add)


CATALOG_HELP = "catalog file (default: $ARCHIVER_CATALOG, else catalog.sqlite beside the bags)"


def _add_history(sub: Subparsers) -> None:
    p = sub.add_parser("history", help="a URL's captures across runs; exit 1 if never captured")
    p.add_argument("url", metavar="URL")
    p.add_argument("--json", action="store_true", help="machine-readable timeline")
    p.add_argument(
        "--catalog", metavar="PATH", help=CATALOG_HELP.replace("beside the bags", "in runs/")
    )
    p.set_defaults(func=commands.cmd_history)


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
    c.add_argument("event", choices=["exported", "received", "verified"])
    c.add_argument("--custody-log", help="custody log (default: beside the bag)")
    c.add_argument("--actor", help="who did it")
    c.add_argument("--note", help="free text, e.g. the receiving library and its reference")
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
    _add_anchor_options(p)
    p.set_defaults(func=commands.cmd_timestamp)


def _add_sign(sub: Subparsers) -> None:
    p = sub.add_parser("sign", help="sign a sealed bag (Ed25519) and timestamp the signature")
    p.add_argument("bag", metavar="BAG")
    p.add_argument("--key", required=True, metavar="KEY.pem", help="private key file")
    p.add_argument("--org", default="", help="organisation named in the signed statement")
    _add_anchor_options(p)
    p.set_defaults(func=commands.cmd_sign)


def _add_keys(sub: Subparsers) -> None:
    p = sub.add_parser("keys", help="manage signing keys")
    keys = p.add_subparsers(dest="keys_verb", metavar="ACTION")
    keys.required = True
    k = keys.add_parser("new", help="make an Ed25519 key pair (the private key never enters a bag)")
    k.add_argument("--out", default=".", help="folder for the key files (default: .)")
    k.add_argument("--name", default="archiver-signing", help="file name stem")
    k.set_defaults(func=commands.cmd_keys_new)


def _add_report(sub: Subparsers) -> None:
    p = sub.add_parser("report", help="what changed, moved or vanished since the previous run")
    p.add_argument("collection", metavar="COLLECTION", help="a collection folder, toml or name")
    p.add_argument("--out", default="runs", help="the runs folder holding its bags (runs)")
    p.add_argument("--since", metavar="RUN", help="compare with this run (a bag name)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    fmt.add_argument("--text", action="store_true", help="the report as plain text (default)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    p.set_defaults(func=commands.cmd_report)


def _add_clean(sub: Subparsers) -> None:
    p = sub.add_parser("clean", help="extract text from the HTML and PDF records of WARCs")
    p.add_argument("warcs", nargs="+", metavar="WARC")
    p.add_argument("--out", required=True, help="folder for the .txt and .json files")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    _add_clean_options(p)
    p.set_defaults(func=commands.cmd_clean)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a new user typing `archiver`: show what it can do, not an argparse error
        parser.print_help()
        return EXIT_USAGE
    args = parser.parse_args(argv)
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
