"""Reading a PDF in tests."""

from __future__ import annotations


def pdf_text(pdf: bytes) -> str:
    """The text of every page (pypdfium2, a test dependency): a PDF's bytes are compressed, so a
    name in it is not in them as it is."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
