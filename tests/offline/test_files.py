"""Attachments on the air-gapped machine: only passive formats keep their extension, all are downloads."""

import html
import os
import re

import pytest

from intake.offline.decrypt import decrypt_bundle

from ..actors import Secretariat
from .crafting import KEYRING, check_honest, honest_entries, made, write_entries

SCRIPT = b"<html><head><title>x</title></head><body><script>document.title='RAN'</script></body></html>"
SVG = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"document.title='RAN'\"><script>document.title='RAN'</script></svg>"

# (name the sender gave, what the file holds, the name it must be written under)
ACTIVE = [
    ("report.html", SCRIPT, ".bin"),
    ("map.svg", SVG, ".bin"),
    ("open-me.desktop", b"[Desktop Entry]\nType=Application\nExec=sh -c 'touch /tmp/pwned'\n", ".bin"),
    ("run.sh", b"#!/bin/sh\ntouch /tmp/pwned\n", ".bin"),
    ("app.hta", SCRIPT, ".bin"),
    ("letter.pdf.html", SCRIPT, ".bin"),
    ("LOUD.HTML", SCRIPT, ".bin"),
    ("page.xhtml", SCRIPT, ".bin"),
    ("data.xml", b'<?xml version="1.0"?><x/>', ".bin"),
    ("statement.pdf", b"%PDF-1.4\n%\xe2\xe3\n", ".bin"),
    ("minutes.docx", b"PK\x03\x04", ".bin"),
    ("archive.zip", b"PK\x03\x04", ".bin"),
    ("invoice\u202egpj.exe", SCRIPT, ".bin"),  # shows as "invoiceexe.jpg" unless the override is shown
    ("a.jpg\x00.html", SCRIPT, ".bin"),
    ("photo.jp\u0261", SCRIPT, ".bin"),  # a look-alike letter
    ("no extension", SCRIPT, ".bin"),
]
PASSIVE = [
    ("PHOTO.JPG", b"\xff\xd8\xff" + SCRIPT, ".jpg"),
    ("scan.png", SCRIPT, ".png"),
    ("notes.txt", SCRIPT, ".txt"),
    ("voice.m4a", b"\x00\x00\x00\x18ftypM4A ", ".m4a"),
]


@pytest.fixture
def decrypted(tmp_path):
    names, contents = zip(*[(n, c) for n, c, _ in ACTIVE + PASSIVE], strict=True)
    m = made(list(contents), names=list(names))
    id_ = os.urandom(16)
    write_entries(tmp_path / "b.bin", honest_entries(id_, m))
    report = decrypt_bundle(tmp_path / "b.bin", KEYRING, tmp_path / "out")
    assert report.ok, report.failures
    check_honest(tmp_path / "out", id_, m)
    return tmp_path / "out", id_.hex()


def test_only_passive_formats_keep_their_extension(decrypted):
    out, item = decrypted
    expected = [f"attachment-{n}{suffix}" for n, (_, _, suffix) in enumerate(ACTIVE + PASSIVE, start=1)]
    assert sorted(os.listdir(out / "requests" / item)) == sorted(expected)  # the files alone


def test_every_attachment_is_a_download_with_the_senders_name_as_text(decrypted):
    out, item_id = decrypted
    path, page = Secretariat.page_of(out, item_id)
    links = re.findall(r"<a [^>]*>", page)
    assert len(links) == len(ACTIVE + PASSIVE)
    for number, (name, _, suffix) in enumerate(ACTIVE + PASSIVE, start=1):
        file = f"attachment-{number}{suffix}"
        assert f'<a href="{item_id}/{file}" download="{file}">' in links, file
        assert (path.parent / item_id / file).is_file()
        item = page.split(f'href="{item_id}/{file}"')[1].split("</li>")[0]
        shown = re.search(r'sent as <bdi dir="auto">(.*?)</bdi>', item).group(1)
        assert "<" not in shown
        visible = name.replace("\u202e", "[U+202E]").replace("\x00", "[U+0000]")
        assert html.unescape(shown) == visible
        assert ("Saved as inert data" in item) == (suffix == ".bin"), file
    whole = path.read_text(encoding="utf-8")
    assert "\u202e" not in whole and "\x00" not in whole


def test_one_click_in_chromium_runs_nothing_the_sender_wrote(decrypted, chromium):
    """Chromium ignores `download` on local pages (file://), so the written name must be inert."""
    out, item = decrypted
    context = chromium.new_context(accept_downloads=True, java_script_enabled=True)
    page = context.new_page()
    start = Secretariat.page_of(out, item)[0].as_uri()
    page.goto(start)
    hrefs = [a.get_attribute("href") for a in page.locator("ol a").all()]
    assert len(hrefs) == len(ACTIVE + PASSIVE)
    for href in hrefs:
        page.goto(start)
        link = page.locator(f'a[href="{href}"]')
        if href.endswith(".bin"):
            with page.expect_download() as download:
                link.click()
            assert href == f"{item}/{download.value.suggested_filename}" and page.url == start, (
                f"{href} was opened"
            )
        else:
            link.click()  # Playwright waits for the navigation this starts
            page.wait_for_load_state()
        assert page.title() != "RAN", f"{href} ran the sender's script"
    context.close()
