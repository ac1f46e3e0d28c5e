"""The real-browser check of the report (pipeline.report_check): headless Chromium finds each kind of defect."""

from __future__ import annotations

import base64
import io

import pytest

from pipeline.report_check import check_report, find_chromium, main

pytestmark = [pytest.mark.slow, pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed")]


def _png(colour: tuple[int, int, int]) -> str:
    """A 120 x 60 PNG: white with a grey frame and, unless ``colour`` is grey, a coloured bar."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (120, 60), "white")
    draw = ImageDraw.Draw(im)
    draw.rectangle((2, 2, 117, 57), outline=(40, 40, 40))
    draw.rectangle((20, 20, 80, 40), fill=colour)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _page(*blocks: str) -> str:
    style = "body { max-width: 600px; margin: 2em auto; padding: 0 1em; } td { white-space: nowrap; }"
    return f"<html><head><style>{style}</style></head><body><h1>Report</h1>{''.join(blocks)}</body></html>"


def _section(title: str, *blocks: str) -> str:
    return f"<section id='s'><h2>{title}<span class='badge'>Simulated data</span></h2>{''.join(blocks)}</section>"


GOOD = _section("1. Good", f"<figure><img alt='bars' src='{_png((31, 119, 180))}'/></figure>",
                "<div class='table'><p class='caption'>Small</p><table><tr><td>1.5</td><td>Nanjing</td><td>Nonexistent</td></tr></table></div>",
                "<details><summary>Parameters</summary>nan None failed:hidden</details>",
                "<p>ok status, 2.5 %, finance, nonce</p>")


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    wide = "".join(f"<td>column {k} with a long header</td>" for k in range(20))
    bad = _section("2. Bad",
                   "<figure><img alt='broken' src='missing.png'/></figure>",
                   f"<figure><img alt='blank axes' src='{_png((128, 128, 128))}'/><p class='caption'>blank</p></figure>",
                   "<figure><p class='caption'>no image</p></figure>",
                   f"<div class='table'><p class='caption'>Hierarchy</p><table><tr>{wide}</tr></table></div>",
                   "<table><tr><td>lags</td><td>nan</td><td>None</td><td>failed:ValueError: 0 bank(s)</td></tr></table>")
    html = folder / "index.html"
    html.write_text(_page(GOOD, bad), encoding="utf-8")
    found, shots = check_report(html, out=folder / "shots")
    return found, shots


def test_browser_check_finds_each_defect_in_its_section(findings):
    found, _ = findings
    kinds = sorted((f.kind, f.where) for f in found)
    assert kinds == sorted([("broken image", "2. Bad"), ("empty figure", "2. Bad"), ("empty figure", "2. Bad"),
                            ("wide table", "2. Bad"), ("bad text", "2. Bad"), ("bad text", "2. Bad"), ("bad text", "2. Bad")])
    texts = " | ".join(f.text for f in found if f.kind == "bad text")
    assert "failed:ValueError" in texts and "hidden" not in texts  # closed <details> are not visible
    assert any("Hierarchy" in f.text for f in found if f.kind == "wide table")


def test_browser_check_saves_screenshots(findings):
    from PIL import Image

    _, shots = findings
    assert shots and all(p.stat().st_size > 0 for p in shots)
    with Image.open(shots[0]) as im:
        assert im.size[0] == 1280


def test_browser_check_passes_a_clean_page_and_exits_by_result(tmp_path, capsys):
    clean = tmp_path / "clean.html"
    clean.write_text(_page(GOOD), encoding="utf-8")
    assert main([str(clean), "--no-screenshots"]) == 0
    assert "no problems" in capsys.readouterr().out


def test_bad_input_report_check_missing_report(tmp_path, capsys):
    assert main([str(tmp_path / "absent.html"), "--no-screenshots"]) == 2
    assert "does not exist (run the report stage first)" in capsys.readouterr().err


def test_bad_input_report_check_no_chromium(tmp_path, capsys):
    page = tmp_path / "p.html"
    page.write_text(_page(GOOD), encoding="utf-8")
    assert main([str(page), "--no-screenshots", "--chromium", str(tmp_path / "no-such-browser")]) == 2
    assert "no Chromium found" in capsys.readouterr().err
