"""The hand-off verbs' arguments: init, profile check, export, receive, import (docs/handoff.md)."""

from __future__ import annotations

from archiver import commands
from archiver.cli_options import (
    TSA_HELP,
    Subparsers,
    add_identity_options,
    add_trust_options,
    size,
)

PROFILE_HELP = "ours, aptrust, btr, a profile JSON file or its URL"


# The verbs add_handoff_verbs adds: `archiver VERB` builds only the group its verb is in.
HANDOFF_VERBS = (
    "init",
    "profile",
    "export",
    "receive",
    "import",
)


def add_handoff_verbs(sub: Subparsers) -> None:
    """Who we are once, bags as libraries accept them, receiving them, and others' captures in."""
    _add_init(sub)
    _add_profile(sub)
    _add_export(sub)
    _add_receive(sub)
    _add_import(sub)


def _add_init(sub: Subparsers) -> None:
    add_identity_options(p := sub.add_parser("init", help="say once who we are: settings file"))
    p.add_argument("--tsa", action="append", metavar="NAME=URL,ROOT.pem", help=TSA_HELP)
    p.add_argument("--force", action="store_true", help="update an existing settings file")
    p.set_defaults(func=commands.cmd_init)


def _add_profile(sub: Subparsers) -> None:
    profile = sub.add_parser("profile", help="BagIt profiles of receiving repositories")
    verbs = profile.add_subparsers(dest="profile_verb", metavar="ACTION", required=True)
    c = verbs.add_parser("check", help="check a bag (folder, tar, zip, tgz) against a profile")
    c.add_argument("bag", metavar="BAG")
    c.add_argument("profile", metavar="PROFILE", help=PROFILE_HELP)
    c.set_defaults(func=commands.cmd_profile_check)


def _add_export(sub: Subparsers) -> None:
    p = sub.add_parser("export", help="write a new bag for a repository, or a WACZ (never changed)")
    p.add_argument("bag", metavar="BAG")
    p.add_argument("--profile", help=f"{PROFILE_HELP} (ours; not with wacz)")
    p.add_argument(
        "--format",
        default="dir",
        choices=["dir", "tar", "zip", "tgz", "wacz"],
        help="a bag as a folder or serialised (dir), or wacz: WACZ 1.1.1 for replay",
    )
    p.add_argument("--out", help="folder that receives the export (.); wacz: a file or folder")
    p.add_argument("--set", action="append", default=[], metavar="LABEL=VALUE")
    p.add_argument("--sign-key", metavar="KEY.pem", help="wacz: sign with this Ed25519 key")
    p.set_defaults(func=commands.cmd_export)


def _add_receive(sub: Subparsers) -> None:
    p = sub.add_parser("receive", help="unpack, verify and sign for a bag from a sender")
    p.add_argument("path", metavar="PATH", help="a tar, zip or gzipped tar, or a bag folder")
    p.add_argument("--into", default="received", help="folder for received bags (received)")
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument(
        "--max-size",
        type=size,
        metavar="SIZE",
        help="refuse a bag that unpacks to more, e.g. 50GB (default: the free space, less a "
        "reserve)",
    )
    p.set_defaults(func=commands.cmd_receive)


def _add_import(sub: Subparsers) -> None:
    p = sub.add_parser("import", help="seal other tools' WARC/WACZ captures into a verified bag")
    p.add_argument("inputs", nargs="+", metavar="WARC|WACZ")
    p.add_argument("--collection", help="collection folder or name the bag belongs to (import)")
    p.add_argument("--out", default="runs", help="folder that receives the bag (default: runs)")
    p.add_argument("--no-clean", action="store_true", help="skip text extraction")
    p.add_argument("--json", action="store_true", help="end with a JSON summary on stdout")
    add_identity_options(p)
    add_trust_options(p)
    p.set_defaults(func=commands.cmd_import)
