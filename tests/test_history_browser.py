"""The trend and portfolio pages in a real headless browser (Debian's chromium).

The charts must be drawn from inline SVG alone (the page's policy forbids scripts), the
points where the criteria changed must be marked, and an organization name that is
HTML must stay text. On CI (env CI set) a missing chromium is a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from history_support import NORTHWIND, derived, report
from ism3rules.formats.history_formats import (LINE_COLOURS, RANK_FILL, render_portfolio_html,
                                                render_trend_html)
from ism3rules.history import open_store
from ism3rules.history.views import portfolio, trend
from test_html_browser import _chromium, _png_pixels, _rgb, _run

HOSTILE = 'Evil <img src="x" onerror="document.title=1"> Ltd'


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path, Path]:
    browser = _chromium()
    folder = tmp_path_factory.mktemp("history-html")
    profile = folder / "small-business.yaml"
    profile.write_text((ROOT / "profiles" / "small-business.yaml").read_text()
                       .replace("OSP-10: {capability: initial", "OSP-10: {capability: optimized"))
    documents = [derived(report(NORTHWIND, day), org="evil", name=HOSTILE)
                 for day in ("2025-12-31", "2026-03-31", "2026-06-30")]
    documents.append(derived(report(NORTHWIND, "2026-06-30", (str(profile),)), org="evil",
                             name=HOSTILE, as_of="2026-09-30"))
    with open_store(str(folder / "h.sqlite")) as store:
        store.record(documents, "record")
        trend_page = folder / "trend.html"
        trend_page.write_text(render_trend_html(trend(store, "evil")), encoding="utf-8")
        portfolio_page = folder / "portfolio.html"
        portfolio_page.write_text(render_portfolio_html(portfolio(store)), encoding="utf-8")
    return browser, folder, trend_page, portfolio_page


def test_trend_dom(pages: tuple[str, Path, Path, Path]) -> None:
    browser, folder, trend_page, _ = pages
    dom = _run(browser, folder / "profile-dom", "--dump-dom", trend_page.as_uri()).stdout
    assert dom.count('class="level-line"') == 3             # one line per profile
    assert dom.count('class="criteria-changed"') == 1       # the changed profile's point
    assert dom.count('class="criteria-changed-point"') == 1
    assert dom.count("<circle") == 3 * 3 + 1
    assert "<img" not in dom and "&lt;img" in dom           # the name stayed text
    assert "<title>Trend: Evil &lt;img" in dom              # and the title did not run


def test_trend_is_drawn(pages: tuple[str, Path, Path, Path]) -> None:
    browser, folder, trend_page, _ = pages
    shot = folder / "trend.png"
    _run(browser, folder / "profile-shot", "--window-size=1000,900", f"--screenshot={shot}",
         trend_page.as_uri())
    _, _, colours = _png_pixels(shot.read_bytes())
    for colour in (*LINE_COLOURS[:3], "#fff3cd", RANK_FILL[1], RANK_FILL[5]):
        assert _rgb(colour) in colours, f"{colour} not drawn"


def test_portfolio_dom(pages: tuple[str, Path, Path, Path]) -> None:
    browser, folder, _, portfolio_page = pages
    dom = _run(browser, folder / "profile-pdom", "--dump-dom", portfolio_page.as_uri()).stdout
    assert dom.count('<tr><td><code>evil</code>') == 1
    assert "<img" not in dom and "Evil &lt;img" in dom
    assert 'class="same changed">3 / 3 → *</td>' in dom      # criteria changed, marked
