"""The cleaner on realistic article pages in Chinese, Russian, Arabic and Spanish.

Each page has a navigation menu, a breadcrumb, an article of several paragraphs, a "related"
sidebar and a footer, like a typical NGO or news site. The texts were written for this project
(no third-party content). ``page_bytes`` encodes a page the way a server would send it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from archiver.clean import extract


@dataclass(frozen=True)
class Page:
    lang: str
    title: str
    menu: tuple[str, ...]
    paragraphs: tuple[str, ...]
    related: tuple[str, ...]
    footer: str
    dir: str = "ltr"


SPANISH = Page(
    lang="es",
    title="Documentan desapariciones forzadas en la región norte",
    menu=("Inicio", "Quiénes somos", "Campañas", "Informes anuales", "Donar", "Contacto"),
    paragraphs=(
        "Un equipo de investigadoras de la organización documentó durante dieciocho meses los "
        "casos de cuarenta y dos personas desaparecidas en tres municipios de la región norte, "
        "a partir de entrevistas con familiares, testigos y funcionarios locales.",
        "Según el informe, en la mayoría de los casos las familias presentaron denuncias ante la "
        "fiscalía en los primeros días, pero los expedientes permanecieron sin avances durante "
        "años. Varias madres relataron que tuvieron que buscar por su cuenta en hospitales, "
        "comisarías y fosas clandestinas.",
        "La coordinadora del proyecto explicó que cada testimonio fue contrastado con registros "
        "oficiales, fotografías y mensajes conservados por las familias. «La preservación de las "
        "pruebas es tan importante como la denuncia», señaló durante la presentación.",
        "El documento recomienda crear una comisión de búsqueda con presupuesto propio, "
        "garantizar el acceso de las familias a los expedientes y proteger a quienes participan "
        "en las búsquedas, que han recibido amenazas en al menos once ocasiones.",
        "Las autoridades estatales no respondieron a las solicitudes de comentarios enviadas "
        "antes de la publicación. El informe completo puede consultarse en la biblioteca de la "
        "organización junto con la metodología y los anexos estadísticos.",
    ),
    related=("Otras noticias: Nueva ley de archivos públicos", "Entrevista con defensoras"),
    footer=(
        "&copy; 2024 Observatorio Ciudadano. Aviso de privacidad. Todos los derechos reservados."
    ),
)

RUSSIAN = Page(
    lang="ru",
    title="Правозащитники опубликовали доклад о задержаниях журналистов",
    menu=("Главная", "О нас", "Проекты", "Публикации", "Пожертвовать", "Контакты"),
    paragraphs=(
        "Правозащитный центр опубликовал доклад о задержаниях журналистов и блогеров за "
        "последние два года. Авторы изучили материалы более шестидесяти дел, судебные решения и "
        "свидетельства адвокатов, которые участвовали в защите.",
        "По данным доклада, в большинстве случаев задержанным не сообщали о причинах "
        "задержания в течение нескольких часов, а доступ к адвокату предоставлялся только на "
        "следующий день. Несколько человек рассказали о давлении со стороны следователей.",
        "Исследователи отдельно отмечают, что многие публикации, ставшие поводом для "
        "преследования, были удалены из интернета. Поэтому центр сохранял копии страниц в "
        "архиве, чтобы суд и общественность могли увидеть исходный текст.",
        "Авторы доклада рекомендуют обеспечить немедленный доступ к защитнику, вести видеозапись "
        "допросов и публиковать статистику задержаний по каждому региону. Эти меры, по их "
        "мнению, помогут предотвратить злоупотребления.",
        "Представители ведомств на момент публикации не ответили на запросы. Полный текст "
        "доклада и приложения с таблицами доступны в библиотеке центра.",
    ),
    related=("Читайте также: Новые правила аккредитации", "Интервью с адвокатом"),
    footer="&copy; 2024 Правозащитный центр. Политика конфиденциальности. Все права защищены.",
)

ARABIC = Page(
    lang="ar",
    title="منظمة حقوقية توثق انتهاكات ضد العاملين في المجال الطبي",
    menu=("الرئيسية", "من نحن", "التقارير", "الحملات", "تبرع", "اتصل بنا"),
    paragraphs=(
        "أصدرت منظمة حقوقية تقريرا جديدا يوثق الاعتداءات التي تعرض لها العاملون في المجال "
        "الطبي خلال العام الماضي، استنادا إلى مقابلات مع أطباء وممرضين وشهود عيان في أربع "
        "مدن مختلفة.",
        "وبحسب التقرير، تعرضت سبع مستشفيات على الأقل للقصف أو الاقتحام، واحتجز عدد من "
        "المسعفين أثناء نقلهم للجرحى. وقال أحد الأطباء إن الفريق اضطر إلى العمل في قبو "
        "المستشفى لعدة أسابيع بسبب الخوف من الهجمات.",
        "وأوضحت الباحثة المسؤولة عن التقرير أن المنظمة حرصت على حفظ الصور ومقاطع الفيديو "
        "والوثائق الأصلية في أرشيف آمن، حتى يمكن استخدامها لاحقا أمام جهات التحقيق والمحاكم.",
        "ويدعو التقرير إلى احترام الحماية الخاصة التي يكفلها القانون الدولي الإنساني للمرافق "
        "الطبية، وإلى فتح تحقيقات مستقلة في جميع الحوادث المذكورة ومحاسبة المسؤولين عنها.",
        "ولم ترد الجهات الرسمية على أسئلة المنظمة حتى موعد النشر. ويمكن الاطلاع على التقرير "
        "الكامل والملاحق في مكتبة المنظمة على موقعها.",
    ),
    related=("اقرأ أيضا: بيان حول حرية الصحافة", "مقابلة مع مدير المنظمة"),
    footer="&copy; 2024 المرصد الحقوقي. سياسة الخصوصية. جميع الحقوق محفوظة.",
    dir="rtl",
)

CHINESE = Page(
    lang="zh",
    title="调查报告记录工厂工人的劳动权益问题",
    menu=("首页", "关于我们", "研究报告", "新闻中心", "捐款支持", "联系我们"),
    paragraphs=(
        "一家劳工权益组织近日发布调查报告，记录了南方三个工业区的工人在工资拖欠、超时加班和"
        "职业安全方面遇到的问题。研究人员在一年多的时间里访谈了一百二十多名工人及其家属。",
        "报告指出，许多工人每月加班超过八十个小时，却没有按照法律规定获得加班费。部分工人表示，"
        "他们在提出投诉之后被调换岗位，甚至被要求签署自愿放弃社会保险的声明。",
        "负责这项研究的学者说，团队保存了工资单、劳动合同照片和聊天记录等原始材料，并对每一份"
        "材料进行了核实，以便将来在仲裁或诉讼中作为证据使用。",
        "报告建议地方政府加强劳动监察，公开执法结果，并为工人提供免费的法律援助。报告还呼吁品牌"
        "企业对供应链进行独立审核，及时纠正发现的问题。",
        "截至发稿时，相关企业尚未回应记者的采访请求。报告全文及附录已在该组织的资料库中公开，"
        "供研究人员和公众查阅。",
    ),
    related=("相关阅读：新修订的劳动法解读", "专访：法律援助律师"),
    footer="&copy; 2024 劳工观察研究中心 版权所有 隐私政策 网站地图",
)

PAGES = {"es": SPANISH, "ru": RUSSIAN, "ar": ARABIC, "zh": CHINESE}


def page_html(page: Page, meta_charset: str | None) -> str:
    """The page as HTML text, with an optional ``<meta charset>`` declaration."""
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    menu = "\n".join(
        f'      <li><a href="/{i}">{item}</a></li>' for i, item in enumerate(page.menu)
    )
    paragraphs = "\n".join(f"      <p>{p}</p>" for p in page.paragraphs)
    related = "\n".join(
        f'        <li><a href="/r{i}">{r}</a></li>' for i, r in enumerate(page.related)
    )
    return f"""<!DOCTYPE html>
<html lang="{page.lang}" dir="{page.dir}">
<head>
  {meta}
  <title>{page.title}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/static/site.css">
  <script>window.dataLayer = window.dataLayer || []; function gtag(){{}}</script>
</head>
<body>
  <header class="site-header">
    <a class="logo" href="/">{page.footer.split(".")[0][7:]}</a>
    <nav class="main-menu">
    <ul>
{menu}
    </ul>
    </nav>
  </header>
  <div class="breadcrumb">
    <a href="/">{page.menu[0]}</a> &gt; <a href="/news">{page.menu[3]}</a>
  </div>
  <main>
    <article class="post">
      <h1>{page.title}</h1>
      <p class="byline"><time datetime="2024-03-14">2024-03-14</time></p>
{paragraphs}
    </article>
    <aside class="related">
      <ul>
{related}
      </ul>
    </aside>
  </main>
  <footer class="site-footer">
    <ul>
{menu}
    </ul>
    <p>{page.footer}</p>
  </footer>
</body>
</html>
"""


def page_bytes(page: Page, encoding: str, meta_charset: str | None) -> bytes:
    return page_html(page, meta_charset).encode(encoding)


# --------------------------------------------------------------------------------------------
# Tests

MOJIBAKE = ("Ã", "Â", "Ð", "Ñ\u0080", "\ufffd", "è¿", "æ", "Ø§")


def _check(page: Page, data: bytes, content_type: str | None = "text/html", **kw: object) -> None:
    result = extract(data, "https://ngo.example.org/news/2024/report", content_type, **kw)
    assert result.path == "trafilatura", result.reason
    assert result.kind == "html"
    for paragraph in page.paragraphs:
        assert paragraph in result.text, paragraph[:40]
    for item in page.menu[1:] + page.related:
        assert item not in result.text
    assert page.footer.split()[-1].rstrip(".") not in result.text  # "... reserved", site map
    assert result.language == page.lang
    assert result.title == page.title
    assert not any(sign in result.text for sign in MOJIBAKE if sign not in page_html(page, None))
    assert result.text.endswith(page.paragraphs[-1])


@pytest.mark.parametrize(
    ("page", "encoding", "meta", "header"),
    [
        pytest.param(CHINESE, "gbk", "gbk", None, id="zh-gbk-meta"),
        pytest.param(CHINESE, "gb18030", None, "text/html; charset=GB2312", id="zh-gb2312-header"),
        pytest.param(CHINESE, "utf-8", None, "text/html; charset=utf-8", id="zh-utf8-header"),
        pytest.param(CHINESE, "utf-8", "utf-8", None, id="zh-utf8-meta"),
        pytest.param(RUSSIAN, "windows-1251", "windows-1251", None, id="ru-cp1251-meta"),
        pytest.param(RUSSIAN, "windows-1251", None, "text/html; charset=windows-1251", id="ru-hdr"),
        pytest.param(RUSSIAN, "windows-1251", None, None, id="ru-cp1251-undeclared"),
        pytest.param(ARABIC, "utf-8", "utf-8", None, id="ar-utf8-meta"),
        pytest.param(ARABIC, "cp1256", None, "text/html; charset=windows-1256", id="ar-cp1256"),
        pytest.param(SPANISH, "iso-8859-1", None, "text/html; charset=ISO-8859-1", id="es-latin1"),
        pytest.param(SPANISH, "utf-8", "utf-8", "text/html", id="es-utf8-meta"),
    ],
)
def test_article_pages_in_many_languages(
    page: Page, encoding: str, meta: str | None, header: str | None
) -> None:
    _check(page, page_bytes(page, encoding, meta), header or "text/html")


def test_http_charset_keyword_is_trusted_over_meta() -> None:
    # The bytes are windows-1251; the page's <meta> wrongly claims KOI8-R, the header is right.
    data = page_bytes(RUSSIAN, "windows-1251", "koi8-r")
    result = extract(data, "https://ngo.example.org/ru", "text/html", http_charset="windows-1251")
    assert (result.charset, result.charset_source) == ("cp1251", "http-header")
    _check(RUSSIAN, data, "text/html", http_charset="windows-1251")


def test_wrong_utf8_header_falls_back_to_meta() -> None:
    # A server default of UTF-8 for a GBK page: the bytes are not UTF-8, so <meta> decides.
    data = page_bytes(CHINESE, "gbk", "gbk")
    result = extract(data, "https://ngo.example.org/zh", "text/html; charset=utf-8")
    assert (result.charset, result.charset_source) == ("gb18030", "meta")
    _check(CHINESE, data, "text/html; charset=utf-8")


def test_bom_beats_meta() -> None:
    data = b"\xef\xbb\xbf" + page_bytes(SPANISH, "utf-8", "iso-8859-1")
    result = extract(data, "https://ngo.example.org/es", None)
    assert (result.charset, result.charset_source) == ("utf-8-sig", "bom")
    assert not result.text.startswith("\ufeff")
    _check(SPANISH, data, None)


def test_page_date_is_bounded_by_capture_date() -> None:
    from datetime import UTC, datetime

    data = page_bytes(SPANISH, "utf-8", "utf-8")
    url = "https://ngo.example.org/es"
    assert extract(data, url, "text/html").date == "2024-03-14"
    before = extract(data, url, "text/html", capture_date=datetime(2023, 1, 1, tzinfo=UTC))
    assert before.date != "2024-03-14"  # a date after the capture cannot be the page's date
    opts = before.extractor.options["trafilatura"]["date_extraction_params"]
    assert opts["max_date"] == "2023-01-01"


def test_extractor_info_names_engines_and_options() -> None:
    result = extract(page_bytes(SPANISH, "utf-8", "utf-8"), "https://ngo.example.org/", None)
    info = result.extractor
    assert info.name == "archiver.clean"
    assert {"trafilatura", "readability-lxml", "py3langid"} <= set(info.engines)
    assert info.options["trafilatura"]["favor_precision"] is True


def test_readability_fallback_when_trafilatura_keeps_a_fragment(monkeypatch) -> None:
    from archiver.clean import html as html_mod

    class Fragment:
        text = "Only a teaser line."
        title = author = date = sitename = description = language = hostname = None

    monkeypatch.setattr(html_mod, "_run_trafilatura", lambda *a: Fragment())
    result = extract(page_bytes(SPANISH, "utf-8", "utf-8"), "https://ngo.example.org/", None)
    assert result.path == "readability-fallback"
    assert SPANISH.paragraphs[2] in result.text
    assert result.title == SPANISH.title  # from <title>, as trafilatura gave none


def test_body_text_fallback_when_both_engines_find_nothing(monkeypatch) -> None:
    from archiver.clean import html as html_mod

    monkeypatch.setattr(html_mod, "_run_trafilatura", lambda *a: None)
    monkeypatch.setattr(html_mod, "_run_readability", lambda *a: "")
    result = extract(b"<html><body><p>Short notice: office closed.</p></body></html>", "u", None)
    assert result.path == "body-text-fallback"
    assert result.text == "Short notice: office closed."


@pytest.mark.parametrize(
    ("data", "content_type", "reason_part"),
    [
        (b"", "text/html", "empty"),
        (b"   \n\t ", "text/html", "empty"),
        (b"<html><head><title>x</title></head><body></body></html>", "text/html", "no visible"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "not HTML or PDF"),
        (bytes(range(256)) * 40, "application/octet-stream", "not HTML or PDF"),
        (b"<html>\xff\xfe\x00\x81\x82<p>\x00\x00\x00</html>", "text/html", ""),
        (b"<" * 100_000, "text/html", ""),
        (b"<div>" * 50_000, "text/html", ""),
    ],
)
def test_bad_input_never_raises(data: bytes, content_type: str, reason_part: str) -> None:
    result = extract(data, "https://example.org/x", content_type)
    assert isinstance(result.text, str)
    if not result.text:
        assert result.reason and reason_part in result.reason
        assert result.path == "empty"


def test_html_sniffed_when_content_type_missing() -> None:
    data = page_bytes(ARABIC, "utf-8", "utf-8")
    _check(ARABIC, data, None)
    _check(ARABIC, data, "application/octet-stream")


def test_same_input_same_output() -> None:
    data = page_bytes(CHINESE, "gbk", "gbk")
    a = extract(data, "https://ngo.example.org/zh", "text/html")
    b = extract(data, "https://ngo.example.org/zh", "text/html")
    assert a == b
