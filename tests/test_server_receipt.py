"""The receipt page: notes and reasons in the page's language, what was removed in plain
words, what no cleaning removes, plain text against the not-cleaned alarm."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.asgi_app import Server, make_server, server
from support.fixtures_office import jpeg_with_gps, make_docx
from support.fixtures_pdf import small_pdf
from support.html_tree import Node, by_class, text_of
from support.html_tree import parse as parse_html
from support.submissions import multipart

from leakdrop.server.i18n import STRINGS

__all__ = ["make_server", "server"]  # the fixtures


# --------------------------------------------------------------------------- receipt notes


def test_receipt_notes_and_reasons_are_in_the_page_language(server: Server) -> None:
    from support.fixtures_images import dirty_jpeg

    jpeg = dirty_jpeg(server.storage.parent, orientation=6)
    body = multipart([("photo.jpg", jpeg), ("data.bin", b"\x00\x01raw")])
    fr = server.submit(body, lang="fr").text
    assert "Remarque\u00a0: L’image elle-même est intacte" in fr
    assert "L’orientation de la photo a été gardée" in fr
    assert "Raison\u00a0: type de fichier non pris en charge" in fr
    for english in ("lossless", "byte for byte", "orientation kept", "unsupported"):
        assert english not in fr, english
    en = server.submit(body, lang="en").text
    assert "Note: The image itself is untouched (not re-compressed)" in en
    assert "The photo’s orientation was kept" in en
    assert "Reason: unsupported file type" in en
    assert "byte for byte" not in en


def _tagged_wav() -> bytes:
    info = b"INFO" + b"IART" + (10).to_bytes(4, "little") + b"Jane Doe\x00\x00"
    fmt = (1).to_bytes(2, "little") * 2 + (8000).to_bytes(4, "little") * 2 + b"\x01\x00\x08\x00"
    chunks = b"".join(
        cid + len(body).to_bytes(4, "little") + body
        for cid, body in ((b"fmt ", fmt), (b"LIST", info), (b"data", b"\x80" * 800))
    )
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def test_receipt_says_audio_kept_and_text_hides_nothing(server: Server) -> None:
    body = multipart([("memo.wav", _tagged_wav()), ("notes.md", b"# Notes\n- met V.\n")])
    for lang in ("fr", "en"):
        page = server.submit(body, lang=lang).text
        for key in ("note_audio_kept", "note_plain_text"):
            assert STRINGS[lang][key].replace("'", "&#39;") in page, (lang, key)
        assert STRINGS[lang]["note_other"] not in page


def test_unknown_notes_and_reasons_are_never_shown_verbatim() -> None:
    """They come from a worker that parsed a hostile file: only known texts are shown."""
    from leakdrop.server.i18n import note_lines, reason_text

    planted = "Send your name to evil@example.org"
    for lang, generic_note, generic_reason in (
        ("fr", "Une remarque technique sur ce fichier", "n’a pas pu être nettoyé"),
        ("en", "A technical note about this file", "could not be cleaned"),
    ):
        assert reason_text(lang, planted) == generic_reason
        lines = note_lines(lang, f"converted to PNG (lossless); {planted}; 2 more image(s) given")
        assert len(lines) == 2 and lines[1].startswith(generic_note)
        assert planted not in " ".join(lines)
        assert note_lines(lang, None) == [] and reason_text(lang, None) is None
    assert note_lines("fr", "converted to PNG (lossless); 3 more image(s) given as separate files")[
        1
    ].startswith("3 autres images")
    assert note_lines("en", "converted to PNG (lossless); 1 more image(s) given as separate files")[
        1
    ].startswith("One more image")


def test_every_scrubber_reason_and_note_has_words_in_both_languages(tmp_path: Path) -> None:
    """A reason or note added to the scrubbers without words here would reach French
    pages as the generic line: this says which one."""
    from support.fixtures_images import dirty_heif, dirty_jpeg, dirty_png
    from support.fixtures_pdf import dirty_pdf

    import scrubbers
    from leakdrop.server.i18n import STRINGS, note_lines, reason_text
    from leakdrop.server.pipeline import TOO_LARGE_TO_CLEAN

    def subclasses(cls: type[scrubbers.ScrubError]) -> list[type[scrubbers.ScrubError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in subclasses(sub))]

    reasons = {c.reason for c in subclasses(scrubbers.ScrubError)} | {TOO_LARGE_TO_CLEAN}
    assert len(reasons) >= 8
    for reason in reasons:
        for lang in STRINGS:
            assert "reason:" + reason in STRINGS[lang], (lang, reason)
        assert reason_text("en", reason) == reason  # the English page says what the manifest says

    notes = {
        scrubbers.scrub(data).note
        for data in (
            dirty_jpeg(tmp_path, orientation=6),
            dirty_jpeg(tmp_path, orientation=1),
            dirty_png(),
            dirty_heif(),
            dirty_pdf(),
            _tagged_wav(),
            b"plain text\n",
        )
    }
    assert len(notes - {None}) >= 4, notes
    for note in notes - {None}:
        for lang in STRINGS:
            generic = STRINGS[lang]["note_other"]
            assert generic not in note_lines(lang, note), (lang, note)


def test_removed_field_names_break_between_their_parts(server: Server) -> None:
    response = server.submit(multipart([("doc.docx", make_docx())]), lang="en")
    assert response.status_code == 200
    names = re.findall(r"<li><code>(.*?)</code></li>", response.text)
    assert names, response.text
    assert "ooxml:<wbr>docProps/<wbr>core" in names
    for name in names:
        # Each break opportunity follows a separator; the text itself is unchanged.
        assert name.replace("<wbr>", "").count(":") == name.count(":<wbr>") + name.endswith(":")
        assert "<" not in name.replace("<wbr>", "")


# ------------------------------------------------------------------ receipt in plain words


def _receipt_files(html: str) -> dict[str, Node]:
    """The receipt's file entries, by the name the source gave."""
    [files] = by_class(parse_html(html), "ol", "files")
    entries = [c for c in files.children if c.tag == "li"]
    return {text_of(by_class(e, "p", "name")[0]): e for e in entries}


def test_field_categories_keep_every_name_and_have_words(tmp_path: Path) -> None:
    """Every field the scrubbers remove from the fixtures has a plain category (none falls
    to "other"); an unknown name is listed under "other", never dropped."""
    from support.fixtures_images import dirty_heif, dirty_jpeg, dirty_png
    from support.fixtures_pdf import dirty_pdf

    import scrubbers
    from leakdrop.server import fields
    from scrubbers._types import WARNING_CODES

    names: set[str] = set()
    for data in (dirty_pdf(), dirty_jpeg(tmp_path), dirty_png(), dirty_heif(), make_docx()):
        names |= set(scrubbers.scrub(data).removed)
    assert len(names) > 60, names
    # "Other" is for what is unknown by nature: private PNG chunks, unknown trailer keys.
    other = sorted(n for n in names if fields.category(n) == fields.OTHER)
    assert [n for n in other if not re.fullmatch(r"png:[a-z]\w+|pdf:trailer-extra", n)] == []
    planted = ("zzz:never-seen", "embedded:docx/embedded:jpeg/exif:GPS", "exif:Make")
    groups = fields.group(planted)
    assert [key for key, _ in groups] == ["gps", "camera", fields.OTHER]
    assert sorted(n for _, group in groups for n in group) == sorted(planted)
    for lang in STRINGS:
        for key in fields.CATEGORIES:
            assert STRINGS[lang]["field:" + key], (lang, key)
        for code in WARNING_CODES:
            assert "warning:" + code in STRINGS[lang], (lang, code)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_receipt_says_what_was_removed_in_plain_words_per_file(server: Server, lang: str) -> None:
    strings = STRINGS[lang]
    body = multipart(
        [
            ("IMG_0042.jpg", jpeg_with_gps()),
            ("contrat.pdf", small_pdf("Marker-PdfAuthor-Jean-Dupont")),
            ("note.docx", make_docx()),
        ]
    )
    response = server.submit(body, lang=lang)
    assert response.status_code == 200, response.text
    files = _receipt_files(response.text)
    expected = {
        "IMG_0042.jpg": ("gps", "camera", "author"),
        "contrat.pdf": ("author", "ids"),
        "note.docx": ("author", "properties", "comments", "dates", "paths"),
    }
    for name, categories in expected.items():
        entry = files[name]
        [plain] = by_class(entry, "ul", "removed-plain")
        said = [text_of(li) for li in plain.children if li.tag == "li"]
        for key in categories:
            assert strings["field:" + key] in said, (name, key, said)
        # Each category once, and the technical names only behind <details>.
        assert len(said) == len(set(said))
        [details] = [n for n in entry.walk() if n.tag == "details"]
        codes = [text_of(c) for c in details.walk() if c.tag == "code"]
        all_codes = [c for c in entry.walk() if c.tag == "code"]
        assert codes and len(all_codes) == len(codes)
        [summary] = [n for n in details.children if n.tag == "summary"]
        count = len(codes)
        assert text_of(summary) == strings["receipt_removed_details_many"].format(count=count)
    jpeg_codes = [text_of(c) for c in files["IMG_0042.jpg"].walk() if c.tag == "code"]
    assert "exif:GPS" in jpeg_codes
    assert "Jean-Dupont" not in response.text


def test_receipt_lists_what_no_cleaning_removes_and_the_files_warnings(server: Server) -> None:
    for lang in STRINGS:
        strings = STRINGS[lang]
        body = multipart([("note.docx", make_docx()), ("IMG.jpg", jpeg_with_gps())])
        root = parse_html(server.submit(body, lang=lang).text)
        [section] = [
            n
            for n in root.walk()
            if n.tag == "section" and n.attrs.get("aria-labelledby") == "cannot"
        ]
        said = text_of(section)
        for key in ("cannot_content", "cannot_dots", "cannot_watermarks", "cannot_noise"):
            assert strings[key] in said, (lang, key)
        # The docx keeps its hyperlinks (content): said, with the file it is in.
        [found] = by_class(section, "ul", "found")
        [line] = [text_of(li) for li in found.children if li.tag == "li"]
        assert line == f"{strings['warning:hyperlinks']} — note.docx", line


def test_plain_text_is_no_alarm_and_unknown_binary_is(server: Server) -> None:
    body = multipart([("notes.txt", "Réunion du 3 mai\n".encode()), ("data.bin", b"\x00\x01raw")])
    for lang in STRINGS:
        strings = STRINGS[lang]
        html = server.submit(body, lang=lang).text
        files = _receipt_files(html)
        assert files["notes.txt"].attrs["class"] == "plain-text"
        assert strings["receipt_plain_text"] in text_of(files["notes.txt"])
        assert f"{strings['receipt_type']} {strings['type_text']}" in text_of(files["notes.txt"])
        assert strings["receipt_not_cleaned"] not in text_of(files["notes.txt"])
        assert files["data.bin"].attrs["class"] == "not-cleaned"
        assert strings["receipt_not_cleaned"] in text_of(files["data.bin"])
        # The red warning at the top names the binary file only.
        [alert] = [n for n in by_class(parse_html(html), "div", "alert")]
        assert "data.bin" in text_of(alert) and "notes.txt" not in text_of(alert)
    # A text file with metadata of its own (RTF's author) is not called plain text.
    rtf = multipart([("lettre.rtf", b"{\\rtf1{\\info{\\author Jean}}Bonjour}")])
    assert _receipt_files(server.submit(rtf, lang="en").text)["lettre.rtf"].attrs["class"] == (
        "not-cleaned"
    )
