"""When the cleaner asks readability: only when trafilatura is unsure (bench/extract/run.py --cv).

Readability used to run on every page and cost half the cleaner's time; its text was kept on
about one page in twenty. Now it runs only when trafilatura's text is short, absolutely or
against the words in the page's paragraphs, and the thresholds are chosen by cross-validation.
"""

from __future__ import annotations

from archiver.clean import html as html_mod
from archiver.clean.extract import extract
from archiver.clean.html import COMBINER, Combiner, page_shape

_SENTENCES = (
    "The district water board met on Tuesday to review the quarterly inspection reports",
    "Inspectors found that three of the eleven pumping stations needed urgent repairs",
    "Residents of the northern villages had complained about low pressure since spring",
    "The board agreed to publish every inspection report on its website within a week",
    "A local school will host an open meeting where engineers answer questions in person",
    "Funding for the repairs comes from a regional grant approved late last year",
)


def _article(paragraphs: int) -> tuple[bytes, list[str]]:
    texts = [
        ". ".join(_SENTENCES[(i + j) % len(_SENTENCES)] for j in range(5)) + f". Item {i}."
        for i in range(paragraphs)
    ]
    body = "".join(f"<p>{t}</p>" for t in texts)
    page = (
        "<html><head><title>Water board report</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<article><h1>Water board report</h1>{body}</article>"
        "<footer>Contact the board</footer></body></html>"
    )
    return page.encode(), texts


def _count_readability(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = html_mod._run_readability

    def counting(html: str) -> str:
        calls.append(html)
        return real(html)

    monkeypatch.setattr(html_mod, "_run_readability", counting)
    return calls


def test_readability_is_not_run_when_trafilatura_has_the_whole_article(monkeypatch) -> None:
    calls = _count_readability(monkeypatch)
    data, texts = _article(8)
    result = extract(data, "https://water.example.org/report", "text/html")
    assert result.path == "trafilatura"
    assert all(t in result.text for t in texts)
    assert calls == []


def test_readability_runs_when_trafilatura_text_is_short(monkeypatch) -> None:
    calls = _count_readability(monkeypatch)
    data, texts = _article(2)  # under min_words: trafilatura is unsure, readability is asked
    result = extract(data, "https://water.example.org/report", "text/html")
    assert len(calls) == 1
    assert result.path == "trafilatura"  # readability did not find more: trafilatura is kept
    assert all(t in result.text for t in texts)


def test_unsure_against_the_paragraphs_of_the_page() -> None:
    c = Combiner(min_words=10, paragraph_share=0.5, fallback_ratio=0.5)
    assert c.unsure(0, 0)  # nothing found is always unsure
    assert c.unsure(9, 0)
    assert not c.unsure(300, 500)
    assert c.unsure(200, 500)  # less than half of the words in <p>


def test_choose_calls_readability_lazily_and_keeps_the_larger_text() -> None:
    c = Combiner(min_words=10, paragraph_share=0.0, fallback_ratio=0.5)
    asked: list[int] = []

    def read() -> str:
        asked.append(1)
        return "word " * 40

    assert c.choose("word " * 20, 0, read) == ("word " * 20, "trafilatura")
    assert asked == []
    assert c.choose("two words", 0, read) == ("word " * 40, "readability-fallback")
    assert c.choose("", 0, lambda: "") == ("", "empty")


def test_page_shape_counts_paragraph_words() -> None:
    shape = page_shape("<html><body><p>one two three</p><div>four</div><p>five</p></body></html>")
    assert shape.paragraph_words == 4
    assert not shape.too_deep


def test_the_combiner_is_recorded_in_the_options() -> None:
    data, _ = _article(3)
    result = extract(data, "https://water.example.org/report", "text/html")
    assert result.extractor.options["combiner"] == COMBINER.options()
    again = extract(data, "https://water.example.org/report", "text/html")
    assert again.text == result.text and again.path == result.path
