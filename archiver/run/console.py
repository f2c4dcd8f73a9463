"""What the operator sees at the terminal: the log copy, the dry-run plan, the result, Ctrl-C."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.attest.tsa import TsaConfig
from archiver.base.errors import (
    EXIT_MEANINGS,
    EXIT_OK,
    EXIT_USAGE,
    ArchiverError,
)
from archiver.base.facts import settings_facts
from archiver.base.settings import Settings
from archiver.run.options import RunOptions
from archiver.run.plan import RunPlan
from archiver.run.progress import OUTCOME_WORDS, LogTee


@contextmanager
def run_output(options: RunOptions) -> Iterator[LogTee | None]:
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
    sys.stderr = tee
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


def print_plan(
    plan: RunPlan, settings: Settings, tsas: list[TsaConfig], options: RunOptions
) -> int:
    """--dry-run: what would be captured, cited where, with which settings. Nothing else."""
    facts = settings_facts(settings)  # the proxy password is masked
    urls = [
        {"url": seed.url, "hops": seed.hops, "citations": [c.to_json() for c in seed.citations]}
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
    for seed in plan.seeds.values():
        print(f"{seed.url}\t(hops {seed.hops})")
        for c in seed.citations:
            print(f"    cited in {c.document} at {c.locator} as {c.cited_as}")
    print("settings:")
    for key, value in sorted(facts.items()):
        print(f"    {key} = {json.dumps(value, ensure_ascii=False)}")
    for t in tsa_list:
        print(f"    tsa {t['name']} = {t['url']}")
    if plan.collection_record:
        print(f"    collection settings: {plan.collection_record}")
    return EXIT_OK


def print_result(
    bag_path: Path, outcomes: Counter[str], text_errors: int, options: RunOptions
) -> None:
    """The last line(s) on stdout: the bag path, or with --json one summary object.

    ``outcomes`` counts the capture-log entries by outcome (the entries are never all held).
    """
    if not options.json:
        print(bag_path)
        return

    doc = {
        "bag": str(bag_path),
        "exit_code": EXIT_OK,
        "meaning": EXIT_MEANINGS[EXIT_OK],
        "urls": sum(outcomes.values()),
        "outcomes": {k: outcomes.get(k, 0) for k in OUTCOME_WORDS} | dict(outcomes),
        "texts_not_extracted": text_errors,
    }
    print(json.dumps(doc, ensure_ascii=False))


def install_stop_handler(stop: threading.Event) -> Any:
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


def restore_stop_handler(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
