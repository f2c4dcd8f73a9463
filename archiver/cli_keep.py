"""The keep verbs' arguments: schedule, report, catalog, history and audit (docs/cli.md)."""

from __future__ import annotations

from archiver import commands
from archiver.cli_options import CATALOG_HELP, TSA_HELP, Subparsers

# The verbs add_keep_verbs adds: `archiver VERB` builds only the group its verb is in.
KEEP_VERBS = (
    "schedule",
    "report",
    "catalog",
    "history",
    "audit",
)


def add_keep_verbs(sub: Subparsers) -> None:
    """Scheduled runs' companions: what is due, what changed, the history, the fixity audits."""
    _add_schedule(sub)
    _add_report(sub)
    _add_catalog(sub)
    _add_history(sub)
    _add_audit(sub)


def _add_schedule(sub: Subparsers) -> None:
    p = sub.add_parser("schedule", help="list collection schedules and how to install the timer")
    p.add_argument("dir", metavar="DIR", help="folder whose subfolders hold collection.toml files")
    p.add_argument("--out", default="runs", help="folder that holds the bags (default: runs)")
    p.add_argument("--json", action="store_true", help="machine-readable listing")
    p.set_defaults(func=commands.cmd_schedule)


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


def _add_history(sub: Subparsers) -> None:
    p = sub.add_parser("history", help="a URL's captures across runs; exit 1 if never captured")
    p.add_argument("url", metavar="URL")
    p.add_argument("--json", action="store_true", help="machine-readable timeline")
    p.add_argument(
        "--catalog", metavar="PATH", help=CATALOG_HELP.replace("beside the bags", "in runs/")
    )
    p.set_defaults(func=commands.cmd_history)


def _add_audit(sub: Subparsers) -> None:
    p = sub.add_parser("audit", help="re-verify the bags under DIR and record it (docs/audits.md)")
    p.add_argument("dir", metavar="DIR", help="folder of sealed bags (e.g. runs)")
    p.add_argument("--share", metavar="K/N", help="audit the stalest 1/N of the bags (e.g. 1/7)")
    p.add_argument("--catalog", metavar="PATH", help=CATALOG_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p.add_argument(
        "--expiring-within",
        type=int,
        default=365,
        metavar="DAYS",
        help="list tokens whose TSA certificate expires within DAYS (365)",
    )
    p.add_argument("--renew", action="store_true", help="renew expiring timestamps (--tsa)")
    p.add_argument("--tsa", action="append", metavar="NAME=URL,ROOT.pem", help=TSA_HELP)
    p.add_argument("--tsa-root", action="append", metavar="PEM", help="extra trusted TSA root")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per TSA (30)")
    p.add_argument("--actor", help="who is auditing (recorded in the custody log)")
    p.set_defaults(func=commands.cmd_audit)
