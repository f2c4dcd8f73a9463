"""The .txt + .json pair: names, bytes, fields, digests, and byte-identical re-runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from archiver import __version__
from archiver.base.hashing import FileDigests, HashingWriter
from archiver.clean.extract import extract
from archiver.clean.sidecar import SourceRef, record_uuid, text_bytes, write_outputs

PAGE = (
    "<html lang=es><head><meta charset=utf-8><title>Informe sobre detenciones</title></head>"
    "<body><nav><a href=/>Inicio</a> <a href=/donar>Donar</a></nav>"
    "<article><h1>Informe sobre detenciones</h1>"
    + "".join(
        f"<p>Párrafo {i}: las familias presentaron denuncias ante la fiscalía y esperaron "
        f"durante años una respuesta de las autoridades del estado.</p>"
        for i in range(6)
    )
    + "</article><footer>Todos los derechos reservados</footer></body></html>"
).encode()

SOURCE = SourceRef(
    warc_file="ARCHIVER-20240314120000000000-00000-host.warc.gz",
    record_id="<urn:uuid:3F2504E0-4F89-11D3-9A0C-0305E82C3301>",
    target_uri="https://ngo.example.org/informe",
    warc_date="2024-03-14T12:00:00.123456Z",
    payload_sha256=hashlib.sha256(PAGE).hexdigest(),
    content_type="text/html; charset=utf-8",
)


def _write(folder: Path) -> tuple[dict, bytes]:
    folder.mkdir()
    extraction = extract(PAGE, SOURCE.target_uri or "", SOURCE.content_type)
    out = write_outputs(extraction, SOURCE, lambda name: HashingWriter(folder / name))
    return out.__dict__, (folder / out.sidecar_name).read_bytes()


def test_names_come_from_the_record_id() -> None:
    assert record_uuid("<urn:uuid:3F2504E0-4F89-11D3-9A0C-0305E82C3301>") == (
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    )
    # Other tools' IDs that are not UUIDs get a stable, distinct name.
    a, b = record_uuid("<urn:sha1:ABC>"), record_uuid("<urn:sha1:ABD>")
    assert a == record_uuid("<urn:sha1:ABC>") and a != b and len(a) == 36


def test_text_bytes_are_utf8_lf_and_end_with_one_newline() -> None:
    assert text_bytes("a\r\nb\rc\n\n") == b"a\nb\nc\n"
    assert text_bytes("ñ") == "ñ\n".encode()
    assert text_bytes("") == b""


def test_write_outputs_through_a_hashing_writer(tmp_path: Path) -> None:
    out, raw_json = _write(tmp_path / "text")
    stem = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    assert (out["text_name"], out["sidecar_name"]) == (f"{stem}.txt", f"{stem}.json")
    body = (tmp_path / "text" / out["text_name"]).read_bytes()
    assert body.endswith(b"\n") and b"\r" not in body
    assert "Párrafo 3" in body.decode("utf-8") and "Donar" not in body.decode("utf-8")
    assert isinstance(out["text_result"], FileDigests)
    assert out["text_result"].sha256 == hashlib.sha256(body).hexdigest() == out["text_sha256"]
    assert out["sidecar_result"].sha256 == hashlib.sha256(raw_json).hexdigest()

    data = json.loads(raw_json)
    assert (
        raw_json.decode() == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    )
    assert data["source"] == SOURCE.__dict__
    assert data["text"] == {
        "file": f"{stem}.txt",
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "characters": len(body.decode()) - 1,
        "empty": False,
    }
    ex = data["extractor"]
    assert (ex["name"], ex["version"], ex["path"]) == ("archiver.clean", __version__, "trafilatura")
    assert {"trafilatura", "readability-lxml", "py3langid"} <= set(ex["engines"])
    assert ex["options"]["trafilatura"]["favor_precision"] is True
    assert data["reason"] is None
    assert data["metadata"]["title"] == "Informe sobre detenciones"
    assert data["metadata"]["language"] == "es"
    assert data["input"] == {"kind": "html", "charset": "utf-8", "charset_source": "http-header"}


def test_empty_extraction_still_gets_a_sidecar_with_the_reason(tmp_path: Path) -> None:
    extraction = extract(b"%PDF-1.7\n", "https://ngo.example.org/x.pdf", "application/pdf")
    out = write_outputs(extraction, SOURCE, lambda n: HashingWriter(tmp_path / n))
    assert (tmp_path / out.text_name).read_bytes() == b""
    data = json.loads((tmp_path / out.sidecar_name).read_bytes())
    assert data["extractor"]["path"] == "empty"
    assert data["text"]["empty"] is True
    assert "PDF" in data["reason"]


def test_same_input_same_bytes(tmp_path: Path) -> None:
    first = _write(tmp_path / "one")
    second = _write(tmp_path / "two")
    assert first[1] == second[1]
    assert first[0]["text_sha256"] == second[0]["text_sha256"]
    assert b"filedate" not in first[1]  # trafilatura's "today" never reaches the sidecar
