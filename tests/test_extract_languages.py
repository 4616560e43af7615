"""Right-to-left pages and legacy encodings: text comes out readable, Unicode as is."""
from __future__ import annotations

import pytest

from archiver.extract import extract
from archiver.extract.encoding import decode
from tests.compiled_equivalence import both_block_passes_agree  # noqa: F401 (autouse)

PERSIAN_TITLE = "کتابخانه‌ی تازه‌ی شهر درهای خود را گشود"
PERSIAN_PARAGRAPHS = [
    "کتابخانه‌ی تازه‌ی شهر امروز صبح درهای خود را به روی مردم گشود و صدها نفر در "
    "نخستین ساعت‌ها از آن دیدن کردند.",
    "مدیر کتابخانه گفت که سالن‌های مطالعه تا پاسی از شب باز خواهند ماند تا دانشجویان "
    "فرصت بیشتری برای درس خواندن داشته باشند.",
    "برنامه‌های آینده",
    "در ماه‌های آینده کارگاه‌های داستان‌نویسی برای کودکان و نوجوانان در این کتابخانه "
    "برگزار می‌شود و ورود به همه‌ی آن‌ها رایگان است.",
]

ARABIC_TITLE = "افتتاح ممرات جديدة على ضفة النهر"
ARABIC_PARAGRAPHS = [
    "أعلنت إدارة الحديقة العامة عن افتتاح ممرات جديدة للمشي وركوب الدراجات على طول ضفة النهر.",
    "وقال المهندس المسؤول عن المشروع إن الأعمال استغرقت ثمانية أشهر وشارك فيها عشرات العمال "
    "من أبناء المدينة.",
    "ومن المتوقع أن يستقبل المكان آلاف الزوار في عطلة نهاية الأسبوع المقبلة، بحسب البلدية.",
]


CHROME = {
    "fa": ("خبرگزاری", '<a href="/">صفحه‌ی اصلی</a> <a href="/politics">سیاست</a> '
           '<a href="/economy">اقتصاد</a> <a href="/sport">ورزش</a>',
           '<a href="/">خانه</a> › <a href="/city">شهر</a>',
           "تمام حقوق این سایت محفوظ است. نقل مطالب با ذکر منبع آزاد است و ما از آن خوشحال "
           "می‌شویم."),
    "ar": ("أخبار المدينة", '<a href="/">الرئيسية</a> <a href="/politics">سياسة</a> '
           '<a href="/economy">اقتصاد</a> <a href="/sport">رياضة</a>',
           '<a href="/">الرئيسية</a> › <a href="/city">المدينة</a>',
           "جميع الحقوق محفوظة لموقع أخبار المدينة، ويسمح بالنقل مع ذكر المصدر بشكل واضح."),
}


def _page(lang: str, title: str, paragraphs: list[str], head: str = "") -> str:
    site, menu, crumbs, rights = CHROME[lang]
    body = "\n".join(
        f"<h2>{p}</h2>" if len(p) < 40 else f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}" dir="rtl"><head>{head}<title>{title} | {site}</title></head>
<body>
<nav class="menu">{menu}</nav>
<div class="breadcrumb">{crumbs}</div>
<article><h1>{title}</h1>
<div class="share-tools"><a href="#t">Telegram</a> <a href="#w">WhatsApp</a></div>
{body}
</article>
<footer><p>{rights}</p></footer>
</body></html>"""


def test_persian_right_to_left_page():
    page = _page("fa", PERSIAN_TITLE, PERSIAN_PARAGRAPHS).encode("utf-8")
    result = extract(page, url="https://example.ir/news/1", content_type="text/html; charset=utf-8")
    assert result.title == PERSIAN_TITLE
    assert result.text.split("\n\n") == PERSIAN_PARAGRAPHS      # ZWNJ and all kept as is
    assert "\u200c" in result.text
    assert result.metadata["language"] == "fa"
    assert "سیاست" not in result.text and "محفوظ" not in result.text


def _arabic_bytes(head: str = "") -> bytes:
    return _page("ar", ARABIC_TITLE, ARABIC_PARAGRAPHS, head).encode("windows-1256")


@pytest.mark.parametrize("content_type, head", [
    ("text/html; charset=windows-1256", ""),                                 # HTTP header
    ("text/html", '<meta charset="windows-1256">'),                          # meta charset
    ("text/html", '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'),
    ("text/html; charset=utf-8", ""),                       # declared UTF-8, really 1256
    ("text/html; charset=utf-8", '<meta charset="utf-8">'),  # both declarations wrong
    ("text/html; charset=iso-8859-1", ""),                  # a Latin label never fails
    (None, ""),                                             # nothing declared: sniff, detect
], ids=["header", "meta", "http-equiv", "mislabelled", "mislabelled-twice", "latin-label",
        "undeclared"])
def test_windows_1256_page_reads_as_arabic(content_type, head):
    result = extract(_arabic_bytes(head), url="https://example.com/ar", content_type=content_type)
    assert result.reason is None
    assert result.title == ARABIC_TITLE
    assert result.text.split("\n\n") == ARABIC_PARAGRAPHS
    assert "سياسة" not in result.text and "محفوظة" not in result.text


def test_utf8_mislabelled_as_latin1_is_read_as_utf8():
    text = "Ünïcödé café — naïve “quotes” ok"
    decoded, used = decode(text.encode("utf-8"), "text/html; charset=iso-8859-1")
    assert decoded == text and used == "utf-8"


def test_cyrillic_code_page_labelled_as_western_is_detected():
    text = "<p>Учёные из нескольких университетов представили результаты исследования.</p>" * 3
    assert decode(text.encode("cp1251"), "text/html; charset=windows-1252") == (text, "cp1251")


def test_western_text_in_its_declared_code_page_is_not_second_guessed():
    text = "<p>Größere Übungen für Bäcker: Öfen, Brötchen und Grüße aus München.</p>" * 3
    assert decode(text.encode("cp1252"), "text/html; charset=iso-8859-1") == (text, "cp1252")


def test_byte_order_mark_wins_over_declarations():
    data = "\ufeff<p>Grüße</p>".encode("utf-16-le")
    decoded, used = decode(data, "text/html; charset=iso-8859-1")
    assert decoded == "<p>Grüße</p>" and used.startswith("utf-16")


def test_declared_latin1_page_keeps_its_characters():
    data = "<p>Déjà vu à Montréal</p>".encode("windows-1252")
    assert decode(data, "text/html; charset=ISO-8859-1") == ("<p>Déjà vu à Montréal</p>",
                                                              "cp1252")


@pytest.mark.parametrize("text", [
    "深度学习模型在自然语言处理任务中取得了显著的进展，研究人员正在探索新的方法来提高效率。",
    "Учёные из нескольких университетов представили результаты долгосрочного исследования климата.",
])
def test_cjk_and_cyrillic_are_kept_as_is(text):
    page = f"<html><body><article><h1>T</h1><p>{text}</p><p>{text[::-1]}</p></article></body></html>"
    assert extract(page.encode("utf-8"), content_type="text/html").text.split("\n\n")[0] == text
