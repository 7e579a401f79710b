"""Formal documents: printable HTML and PDF with the organisation's name, a document number and
the date; Chinese drawn with the CJK fonts (the rendered pages are looked at as pictures); each
preset's record form; the identity rule on what a reader may print."""

from __future__ import annotations

import io
import shutil
import subprocess
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from huiyin.cases.models import CaseDocument
from huiyin.cases.tests.helpers import case_in, custom_policy
from huiyin.conftest import new_case
from huiyin.documents.tests.helpers import pdf_text
from huiyin.org.models import User

pytestmark = pytest.mark.django_db

KINDS = ("acceptance_notice", "rejection_notice", "transfer_letter", "reply", "callback_record", "record_form")


def get(api: Any, user: str, number: str, kind: str, fmt: str) -> Any:
    return api(user).get(f"/cases/{number}/documents/{kind}.{fmt}")


def test_each_document_is_printable_as_html_and_pdf_with_its_number_and_date(api) -> None:
    closed = case_in(api, "closed")
    invalid = case_in(api, "invalid")
    for kind in KINDS:
        number = invalid if kind == "rejection_notice" else closed
        html = get(api, "dispatcher", number, kind, "html")
        assert html.status_code == 200, (kind, html.content[:300])
        assert html["Content-Type"].startswith("text/html")
        text = html.content.decode()
        doc = CaseDocument.objects.get(case__number=number, kind=kind)
        assert doc.number.startswith("示范市局〔") and doc.number in text
        assert "示范市局" in text and number in text
        pdf = get(api, "dispatcher", number, kind, "pdf")
        assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        # printed again: the same number
        get(api, "dispatcher", number, kind, "html")
        assert CaseDocument.objects.filter(case__number=number, kind=kind).count() == 1
    titles = {"acceptance_notice": "受理告知书", "reply": "答复意见书", "callback_record": "回访记录",
              "record_form": "客户投诉受理监督记录表", "transfer_letter": "转办函"}
    for kind, title in titles.items():
        assert title in get(api, "leader", closed, kind, "html").content.decode()


def test_a_document_that_cannot_exist_yet_is_a_409_and_an_unknown_kind_a_404(api) -> None:
    n = new_case(api)["number"]
    assert get(api, "dispatcher", n, "reply", "pdf").status_code == 409
    assert get(api, "dispatcher", n, "acceptance_notice", "html").status_code == 409
    assert get(api, "dispatcher", n, "invoice", "html").status_code == 404
    assert get(api, "handler_b", n, "record_form", "html").status_code == 404  # not his case
    assert get(api, "auditor", n, "record_form", "html").status_code == 403  # never issued; he only reads
    assert get(api, "dispatcher", n, "record_form", "html").status_code == 200
    assert get(api, "auditor", n, "record_form", "html").status_code == 200  # issued now: he may read it
    assert Client().get(f"/api/v1/cases/{n}/documents/record_form.pdf").status_code == 401


def test_the_record_form_follows_the_preset_and_keeps_a_reporter_hidden(api) -> None:
    report = case_in(api, "dispatched", kind="report", subject="有人无证销售卷烟")
    form = get(api, "handler_a", report, "record_form", "html").content.decode()
    assert "客户举报受理监督记录表" in form
    assert "张三" not in form and "13800138000" not in form and "举报人身份保密" in form
    assert "张三" in get(api, "dispatcher", report, "record_form", "html").content.decode()
    complaint = case_in(api, "registered")
    assert "客户投诉受理监督记录表" in get(api, "agent", complaint, "record_form", "html").content.decode()
    custom_policy(lambda c: None, base="quality", name="quality")
    quality = case_in(api, "registered")
    assert "客户抱怨、投诉记录单" in get(api, "agent", quality, "record_form", "html").content.decode()
    custom_policy(lambda c: None, base="property", name="property")
    prop = new_case(api)["number"]
    assert "客户投诉登记表" in get(api, "agent", prop, "record_form", "html").content.decode()


def test_a_rejection_names_the_reason_and_the_competent_authority(api) -> None:
    n = new_case(api)["number"]
    api("dispatcher").act(n, "transfer_out", {"authority": "市场监督管理局", "note": "不属本单位职责"})
    text = get(api, "dispatcher", n, "rejection_notice", "html").content.decode()
    assert "不予受理" in text and "市场监督管理局" in text
    invalid = case_in(api, "invalid")
    assert "投诉对象不明确" in get(api, "dispatcher", invalid, "rejection_notice", "html").content.decode()


def test_a_walk_in_record_is_printed_for_the_visitors_signature(api) -> None:
    n = new_case(api, channel="walk_in")["number"]
    text = get(api, "agent", n, "walk_in_record", "html").content.decode()
    assert "来访登记表" in text and "来访人（签字）" in text and "张三" in text
    assert get(api, "agent", new_case(api)["number"], "walk_in_record", "html").status_code == 409


def test_the_case_page_lists_the_documents_the_case_has_now(api, org) -> None:
    import re

    n = new_case(api, channel="walk_in")["number"]
    c = Client()
    c.force_login(org.agent)
    page = c.get(f"/cases/{n}/").content.decode()
    kinds = re.findall(r'data-document="(\w+)"', page)
    assert "walk_in_record" in kinds and "record_form" in kinds and "reply" not in kinds
    link = re.search(r'href="([^"]+)"[^>]*data-document="walk_in_record"', page).group(1)
    r = c.get(link)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")


def _menu(org: Any, username: str, number: str) -> tuple[Client, list[str]]:
    import re

    c = Client()
    c.force_login(User.objects.get(username=username))
    page = c.get(f"/cases/{number}/")
    assert page.status_code == 200
    return c, re.findall(r'data-document="(\w+)"', page.content.decode())


def test_the_menu_lists_exactly_the_documents_the_reader_may_open(api, org) -> None:
    """The auditor and a co-handling unit's user (who may read but not issue) see only the issued
    documents; those working on the case see what they may issue. Every entry opens; every kind
    left out answers 403 or 409, on the pages and over the API alike."""
    n = new_case(api)["number"]
    api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["county_b"]})
    api("leader").act(n, "approve")
    assert api("handler_b").get(f"/cases/{n}").status_code == 200  # 协办: he sees the case

    def check(username: str, expected: set[str]) -> None:
        c, kinds = _menu(org, username, n)
        assert set(kinds) == expected, username
        for kind in ("acceptance_notice", "rejection_notice", "transfer_letter", "reply", "callback_record",
                     "record_form", "walk_in_record"):
            page, rest = c.get(f"/documents/{n}/{kind}.html"), get(api, username, n, kind, "html")
            if kind in expected:
                assert (page.status_code, rest.status_code) == (200, 200), (username, kind)
            else:
                assert page.status_code in (403, 409) and rest.status_code == page.status_code, (username, kind)

    # nothing issued yet: the readers' menus are empty (no entry that answers 403)
    for reader in ("auditor", "handler_b"):
        check(reader, set())
    assert not CaseDocument.objects.filter(case__number=n).exists()  # looking issued nothing
    issued = {"acceptance_notice", "transfer_letter", "record_form"}
    check("dispatcher", issued)  # he may issue them: printing issues them
    for reader in ("auditor", "handler_b"):  # issued now: the readers see exactly those
        check(reader, issued)


# --- the pictures -------------------------------------------------------------------------------


def _font(style: str) -> tuple[str, int]:
    """The file and face index fontconfig picks for a family (the same as WeasyPrint's)."""
    out = subprocess.run(["fc-match", "-f", "%{file}|%{index}", f"Noto Sans CJK SC:{style}"], capture_output=True,
                         text=True, check=True).stdout
    path, index = out.split("|")
    return path, int(index or 0)


def _ink(image: Any) -> Any:
    """The image cropped to its dark pixels, as black and white."""
    bw = image.convert("L").point(lambda v: 255 if v < 140 else 0)
    box = bw.getbbox()
    assert box is not None, "nothing drawn"
    return bw.crop(box)


def _bands(gray: Any) -> list[tuple[int, int]]:
    """Rows of text: runs of pixel rows that hold ink."""
    width, height = gray.size
    pixels = gray.load()
    rows = [any(pixels[x, y] < 140 for x in range(0, width, 2)) for y in range(height)]
    bands, start = [], None
    for y, inked in enumerate(rows + [False]):
        if inked and start is None:
            start = y
        elif not inked and start is not None:
            bands.append((start, y))
            start = None
    return bands


def _similar(a: Any, b: Any) -> float:
    """Overlap of two ink pictures scaled to one size (intersection over union)."""
    size = (240, 48)
    pa, pb = a.resize(size).load(), b.resize(size).load()
    both = either = 0
    for x in range(size[0]):
        for y in range(size[1]):
            ia, ib = pa[x, y] > 127, pb[x, y] > 127
            both += ia and ib
            either += ia or ib
    return both / max(either, 1)


def _drawn(text: str, font: Any, size: int, spacing: float) -> Any:
    from PIL import Image, ImageDraw

    image = Image.new("L", (int(size * (len(text) + 1) * (1 + spacing)), size * 2), 255)
    draw = ImageDraw.Draw(image)
    for i, ch in enumerate(text):
        draw.text((size // 2 + i * size * (1 + spacing), size // 2), ch, font=font, fill=0)
    return _ink(image)


@pytest.mark.slow
def test_the_pdf_draws_the_chinese_text_with_the_cjk_font(api) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    if shutil.which("fc-match") is None or "Noto Sans CJK" not in subprocess.run(
            ["fc-list", ":lang=zh", "family"], check=False, capture_output=True, text=True).stdout:
        pytest.skip("fonts-noto-cjk is not installed (apt-get install fonts-noto-cjk)")
    from PIL import ImageFont

    n = case_in(api, "dispatched")
    pdf = get(api, "dispatcher", n, "acceptance_notice", "pdf").content
    page = pdfium.PdfDocument(io.BytesIO(pdf))[0].render(scale=3).to_pil().convert("L")
    bands = _bands(page)
    assert len(bands) >= 4, "the organisation, the title, the number and the text"
    top, bottom = bands[1]  # the title, under the organisation's name
    title = _ink(page.crop((0, top, page.size[0], bottom)))
    path, index = _font("bold")
    font = ImageFont.truetype(path, 66, index=index)
    expected = _similar(title, _drawn("受理告知书", font, 66, 0.2))
    other = _similar(title, _drawn("答复意见书", font, 66, 0.2))
    boxes = _similar(title, _drawn("口口口口口", font, 66, 0.2))
    assert expected > 0.55, expected  # the glyphs of 受理告知书, not boxes
    assert expected > other + 0.15 and expected > boxes + 0.15, (expected, other, boxes)
    # the organisation's name in its own line, above
    org = _ink(page.crop((0, bands[0][0], page.size[0], bands[0][1])))
    regular = ImageFont.truetype(path, 48, index=index)
    assert _similar(org, _drawn("示范市局", regular, 48, 0.15)) > 0.45


def test_a_pdf_fetches_no_url_it_names(tmp_path: Any) -> None:
    """A document is self-contained: a URL that reached one (an address inside the network, a
    file of the server) is left out, never fetched (documents.render._fetcher)."""
    from weasyprint import HTML

    from huiyin.documents.render import render_pdf
    from huiyin.notify.tests.servers import LocalHTTPServer

    pytest.importorskip("pypdfium2")
    secret = tmp_path / "secret.css"
    secret.write_text("body::before { content: 'READ-FROM-A-FILE' }", encoding="utf-8")
    with LocalHTTPServer(lambda request: (200, b"body::after { content: 'FETCHED-OVER-HTTP' }"),
                         content_type="text/css") as server:
        inside = f"{server.url}/internal.css"
        html = (f'<html><head><link rel="stylesheet" href="{inside}"><link rel="stylesheet" href="{secret.as_uri()}">'
                '</head><body><p>回音 受理告知书</p></body></html>')

        # WeasyPrint's own default fetches both: the server and the file are really there
        fetched = pdf_text(HTML(string=html, base_url=None).write_pdf())
        assert [r.path for r in server.requests] == ["/internal.css"]
        assert "FETCHED-OVER-HTTP" in fetched and "READ-FROM-A-FILE" in fetched
        server.requests.clear()
        ours = pdf_text(render_pdf(html))
        assert server.requests == []
        assert "FETCHED-OVER-HTTP" not in ours and "READ-FROM-A-FILE" not in ours and "受理告知书" in ours


def test_a_pdf_opened_again_is_not_laid_out_again_and_a_reader_who_sees_less_gets_their_own(api) -> None:
    """`render_pdf` keeps the last PDFs by their HTML: the dispatcher opening the report's record
    form again gets the same file at once; the handler, from whom the reporter is hidden, gets a
    PDF laid out from their own HTML, without the reporter, never the one kept for the dispatcher."""
    import weasyprint

    from huiyin.documents import render

    pytest.importorskip("pypdfium2")
    report = case_in(api, "dispatched", kind="report", subject="有人无证销售卷烟")
    render._pdf_of.cache_clear()  # another test of this process may have laid out the same case's form
    with mock.patch.object(weasyprint, "HTML", wraps=weasyprint.HTML) as laid_out:
        first = get(api, "dispatcher", report, "record_form", "pdf")
        again = get(api, "dispatcher", report, "record_form", "pdf")
        assert laid_out.call_count == 1
        assert first.status_code == again.status_code == 200 and first.content == again.content
        assert "张三" in pdf_text(first.content)
        hidden = get(api, "handler_a", report, "record_form", "pdf")
        assert laid_out.call_count == 2
        assert hidden.status_code == 200 and hidden.content != first.content
        assert "张三" not in pdf_text(hidden.content) and "举报人身份保密" in pdf_text(hidden.content)
