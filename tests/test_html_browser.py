"""The HTML report in a real headless browser (Debian's chromium): DOM, pixels, PDF.

Chromium parses the report (the process rows and the charts are in its DOM), draws
it (the heat map and ladder colours are in its screenshot, saved to
build/test-artifacts/html-report.png for a person to look at) and prints it to PDF.
On CI (env CI set) a missing chromium is a failure: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from conftest import ROOT
from ism3rules.api import evaluate_bundle
from ism3rules.formats.html import MET_FILL, RANK_FILL, render_html

ARTIFACTS = ROOT / "build" / "test-artifacts"


def _chromium() -> str:
    found = os.environ.get("ISM3_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; CI must install it (see .ci/run)")
    pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def _png_pixels(data: bytes) -> tuple[int, int, set[tuple[int, int, int]]]:
    """Width, height and the set of RGB colours of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    colours: set[tuple[int, int, int]] = set()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
                line[i] = (line[i] + pred) & 0xFF
        for x in range(0, stride, channels * 2):  # every other pixel is enough
            colours.add((line[x], line[x + 1], line[x + 2]))
        previous = line
    return width, height, colours


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    browser = _chromium()
    folder = tmp_path_factory.mktemp("html")
    page = folder / "northwind.html"
    page.write_text(render_html(evaluate_bundle(ROOT / "evidence" / "northwind")),
                    encoding="utf-8")
    return browser, page, folder


def test_browser_dom_has_every_process_row_and_the_charts(report: tuple[str, Path, Path]) -> None:
    browser, page, folder = report
    dom = _run(browser, folder / "profile-dom", "--dump-dom", page.as_uri()).stdout
    assert dom.count('<tr class="process"') == 45
    assert dom.count('class="hm-row"') == 45
    assert dom.count('<svg class="ladder"') == 3
    assert 'id="process-OSP-3"' in dom and "optimized" in dom


def test_browser_draws_the_charts(report: tuple[str, Path, Path]) -> None:
    browser, page, folder = report
    shot = folder / "html-report.png"
    _run(browser, folder / "profile-shot", "--window-size=1200,2200",
         f"--screenshot={shot}", page.as_uri())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "html-report.png")
    width, height, colours = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 2200)
    # heat-map cells of every capability northwind reaches, "met" cells, a met ladder step
    for colour in (RANK_FILL[1], RANK_FILL[3], RANK_FILL[5], MET_FILL, "#2e7d4f"):
        assert _rgb(colour) in colours, f"{colour} not drawn"


def test_browser_prints_it_to_pdf(report: tuple[str, Path, Path]) -> None:
    browser, page, folder = report
    pdf = folder / "report.pdf"
    _run(browser, folder / "profile-pdf", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
         page.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 5 <= pages <= 60, pages   # the whole report, on A4 pages
