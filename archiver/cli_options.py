"""Pieces of the command line that several verbs share: the parser and common option groups."""

from __future__ import annotations

import argparse
import typing

from archiver.base.errors import EXIT_USAGE
from archiver.base.settings import parse_size

TSA_HELP = (
    "time-stamping authority as NAME=URL,ROOT.pem[,ROOT2.pem]; repeat for each TSA "
    "(default: ARCHIVER_TSA)"
)


CATALOG_HELP = "catalog file (default: $ARCHIVER_CATALOG, else catalog.sqlite beside the bags)"


class ArchiverParser(argparse.ArgumentParser):
    """argparse with archiver's error format: one line naming the problem, then exit 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"archiver: {message} (see `{self.prog} --help`)\n")


Subparsers: typing.TypeAlias = "argparse._SubParsersAction[ArchiverParser]"


def size(text: str) -> int:
    """argparse type for byte sizes: 10MB, 500MiB, 1234."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_clean_options(p: argparse.ArgumentParser) -> None:
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


def add_anchor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tsa", action="append", metavar="NAME=URL,ROOT.pem", help=TSA_HELP)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per TSA (30)")
    p.add_argument("--custody-log", help="custody log to append to (default: beside the bag)")
    p.add_argument("--actor", help="who is doing this (recorded in the custody log)")
    p.add_argument("--json", action="store_true", help="machine-readable result")


def add_identity_options(p: argparse.ArgumentParser) -> None:
    who = p.add_argument_group("who is capturing (recorded in the WARCs and the bag)")
    who.add_argument("--operator", help="person or role running the capture")
    who.add_argument("--organisation", help="Source-Organization for bag-info.txt")
    who.add_argument("--contact-name", help="Contact-Name for bag-info.txt")
    who.add_argument("--contact-email", help="contact email (also sent in User-Agent and From)")


def add_trust_options(p: argparse.ArgumentParser) -> None:
    trust = p.add_argument_group("trusted time and signature (docs/provenance.md)")
    trust.add_argument("--tsa", action="append", metavar="NAME=URL,ROOT.pem", help=TSA_HELP)
    trust.add_argument("--sign-key", metavar="KEY.pem", help="Ed25519 key to sign the bag with")
    trust.add_argument(
        "--trust-collection-settings",
        action="store_true",
        help="use the collection's proxy, TLS, robots.txt, identity and [[tsa]] settings "
        "(otherwise ignored with a warning; docs/collections.md)",
    )
