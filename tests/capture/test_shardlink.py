"""The pipe between a capture process and the main process (capture/shards.py, shardworker.py).

A result whose body is on disk waits for the main process's answer (the body may be being
cleaned); a result without one (always so with ``--no-clean``) is sent and not answered, as
its journal line when the main process has nothing to do with it but journal it, which it
then does on the thread that received it. A result the main process cannot take stops every
process either way.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest

from archiver.base.errors import ArchiverError
from archiver.base.settings import Settings
from archiver.capture import shards
from archiver.capture.crawl import CaptureResult
from archiver.capture.log import CaptureEntry, EntryLine, brief, dumps_entry
from archiver.capture.shardworker import _ParentLink
from archiver.capture.witness import annotates
from tests.helpers import DATA


def _result(body: Path | None) -> CaptureResult:
    line = (DATA / "capture-log" / "v1.jsonl").read_bytes().splitlines()[0]
    entry = CaptureEntry.from_json(json.loads(line))
    return CaptureResult(entry, body, "text/html", None)


def _send_in_thread(link: _ParentLink, result: CaptureResult) -> tuple[threading.Event, list[Any]]:
    done, raised = threading.Event(), []

    def send() -> None:
        try:
            link.on_result(result)
        except ArchiverError as err:
            raised.append(err)
        done.set()

    threading.Thread(target=send, daemon=True).start()
    return done, raised


@pytest.mark.parametrize("lines", [False, True])
def test_a_result_without_a_body_is_sent_and_not_waited_for(lines: bool) -> None:
    parent, child = multiprocessing.Pipe()
    link = _ParentLink(child, threading.Event(), lambda entry: lines)
    done, raised = _send_in_thread(link, _result(None))
    assert done.wait(5) and not raised  # returned though the parent never answered
    entry = _result(None).entry
    if lines:  # the journal line the parent would have made, and what progress shows
        assert parent.recv() == ("line", EntryLine(entry.url, dumps_entry(entry)), brief(entry))
    else:
        kind, seq, sent = parent.recv()
        assert (kind, seq) == ("result", 0) and sent.entry == entry
    assert not link.waiting


@pytest.mark.parametrize("error", [None, "OSError: No space left on device"])
def test_a_result_with_a_body_waits_for_the_answer(tmp_path: Path, error: str | None) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"<p>page</p>")
    parent, child = multiprocessing.Pipe()
    link = _ParentLink(child, threading.Event(), lambda entry: True)
    done, raised = _send_in_thread(link, _result(body))
    kind, seq, sent = parent.recv()
    assert kind == "result" and seq >= 1 and sent.payload_path == body
    assert not done.wait(0.3)  # the body stays on disk until the parent is done with it
    parent.send(("done", seq, error))
    assert done.wait(5)
    assert [str(e) for e in raised] == ([error] if error else [])


def test_the_main_process_answers_only_who_waits_and_stops_all_on_a_failure() -> None:
    capture = shards.ShardedCapture([])  # no process forked: one pipe stands for a child
    ours, theirs = multiprocessing.Pipe()
    capture.children.append(shards._Child(None, ours, workers=2))
    taken: list[tuple[str, str]] = []

    def on_result(result: CaptureResult) -> None:
        taken.append((threading.current_thread().name, str(result.payload_path)))

    def on_line(line: EntryLine, fields: dict[str, Any]) -> None:
        taken.append((threading.current_thread().name, line.url))
        if line.url == "fails":
            raise OSError("No space left on device")

    capture.serve(on_result, lambda path, digests: None, on_line)
    serving = capture.children[0].thread
    assert serving is not None
    theirs.send(("line", EntryLine("https://e.org/", b"{}\n"), {}))
    theirs.send(("result", 0, _result(None)))
    theirs.send(("result", 7, _result(Path("kept"))))
    assert theirs.recv() == ("done", 7, None)  # only the result that waits is answered
    theirs.send(("line", EntryLine("fails", b"{}\n"), {}))
    assert theirs.recv() == ("stop",)  # nobody waits for that answer: every process stops
    theirs.send(("end",))
    serving.join(5)
    assert not serving.is_alive() and not theirs.poll(0.1)
    assert taken[0] == (serving.name, "https://e.org/")  # on the receiving thread: no hand-off
    assert sorted(where for where, _ in taken[1:3])[0].startswith("capture-answer")
    assert taken[-1] == (serving.name, "fails") and isinstance(capture.failure, OSError)
    assert capture.children[0].pool is not None
    capture.children[0].pool.shutdown()


def test_only_an_entry_a_lookup_would_add_to_waits_for_the_main_process() -> None:
    """Witnesses are on by default: a captured page's line is final where it was made, a gone
    page's entry goes whole (the main process looks it up before journaling it)."""
    captured = _result(None).entry
    gone = dataclasses.replace(captured, outcome="http-error", status=404)
    default, saving = Settings(), Settings(save_now=True, witnesses=False)
    assert default.witnesses and not annotates(default, captured) and annotates(default, gone)
    assert annotates(saving, captured) and not annotates(saving, gone)
    assert not annotates(Settings(witnesses=False), gone)
    parent, child = multiprocessing.Pipe()
    link = _ParentLink(child, threading.Event(), lambda entry: not annotates(default, entry))
    for result in (_result(None), CaptureResult(gone, None, "text/html", None)):
        done, raised = _send_in_thread(link, result)
        assert done.wait(5) and not raised
    assert parent.recv()[0] == "line"
    kind, seq, sent = parent.recv()
    assert (kind, seq, sent.entry) == ("result", 0, gone)
