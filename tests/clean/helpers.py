"""Shared by the clean tests: pages in many languages and hand-built PDFs."""

from __future__ import annotations

import io
from dataclasses import dataclass


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


MOJIBAKE = ("Ã", "Â", "Ð", "Ñ\u0080", "\ufffd", "è¿", "æ", "Ø§")


# A ToUnicode map that makes byte 0x01 extract as U+FB01 LATIN SMALL LIGATURE FI, as the "fi"
# glyph of a typeset PDF does.
LIGATURE_CMAP = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<00> <FF>
endcodespacerange
1 beginbfchar
<01> <FB01>
endbfchar
95 beginbfrange
<20> <7E> <0020>
endbfrange
endcmap
CMapName currentdict /CIDFont defineresource pop
end
end
""".replace(b"95 beginbfrange", b"1 beginbfrange")


def _pdf_string(value: str) -> bytes:
    """A PDF text string: literal if ASCII, else UTF-16BE with a BOM, in hex."""
    if value.isascii():
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("ascii") + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def make_pdf(
    pages: list[list[bytes]],
    info: dict[str, str] | None = None,
    encrypt: bytes | None = None,
) -> bytes:
    """A valid PDF 1.4: one Helvetica text line per item of each page (bytes, already escaped)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    cmap = add(b"<< /Length %d >>\nstream\n" % len(LIGATURE_CMAP) + LIGATURE_CMAP + b"\nendstream")
    font = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding "
        b"/ToUnicode %d 0 R >>" % cmap
    )
    kids = []
    for lines in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 16 TL"]
        ops += [b"(" + line + b") Tj T*" for line in lines]
        ops.append(b"ET")
        content = b"\n".join(ops)
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_obj, font, stream)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    trailer_extra = b""
    if info:
        entries = b" ".join(b"/" + k.encode() + b" " + _pdf_string(v) for k, v in info.items())
        trailer_extra += b" /Info %d 0 R" % add(b"<< " + entries + b" >>")
    if encrypt:
        trailer_extra += b" /Encrypt %d 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> "
        trailer_extra += b"<0123456789ABCDEF0123456789ABCDEF>]"
        trailer_extra = trailer_extra % add(encrypt)

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog) + trailer_extra)
    out.write(b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


REPORT_PAGES = [
    [b"Annual report on detention conditions", b"Chapter 1: Method", b"We visited 14 sites."],
    [b"Chapter 2: Findings", b"Overcrowding was observed in 9 of 14 facilities."],
    [b"Chapter 3: Recommendations", b"The signi\x01cant \x01ndings call for independent visits."],
]


REPORT_INFO = {
    "Title": "Detention conditions \u2013 annual report",
    "Author": "Monitoring Team",
    "Subject": "Prison monitoring",
    "CreationDate": "D:20240131120000+01'00'",
    "ModDate": "D:20240201090000Z",
}
