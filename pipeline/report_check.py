"""Check the HTML report in a real browser (headless Chromium): ``python -m pipeline.report_check``.

The page is opened as a reader would open it (a copy with a small checking script appended,
from a temporary folder) in headless Chromium at a fixed window width; the script measures the
laid-out page and the check fails (exit 1) on any of:

- ``broken image``: an ``<img>`` that did not load (no natural size);
- ``empty figure``: a ``<figure>`` without an image, or whose image has no coloured pixel
  (matplotlib draws axes and text in greys: a figure with no colour at all, not even a light
  shading, has nothing drawn, e.g. a plot whose data were all missing);
- ``wide table``: a table wider than the page's text column (cut off or scrolling sideways);
- ``bad text``: ``nan``, ``NaN``, ``None`` or ``failed:`` in the visible text (closed
  ``<details>`` are not visible), with the section and the text around it.

Screenshots of the page (tall windows, top to bottom) go to ``--out`` (default:
``report_check/`` in the working directory, ignored by git). Only the Chromium binary is needed (``--chromium`` or
``chromium``/``chromium-browser``/``google-chrome`` on the PATH); docs/report.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 1000
SHOT_HEIGHT = 6000  #: a screenshot's window height (few browser launches; a reader scrolls through them)
MARK = "report-check-result"

#: runs in the page after load; writes its findings as JSON into <pre id=MARK>
SCRIPT = r"""
<script>
window.addEventListener("load", () => {
  const out = [];
  const title = (s) => { const h = s && s.querySelector("h2");  // the heading's own text, not its badges
    return h ? (h.firstChild ? h.firstChild.textContent : h.textContent).trim().slice(0, 80) : (s && s.id) || ""; };
  const section = (el) => title(el.closest("section"));
  const shot = location.hash.match(/shot=(\d+)/);
  document.querySelectorAll("img").forEach((img) => {
    if (!img.complete || img.naturalWidth === 0) out.push({kind: "broken image", where: section(img), text: (img.alt || "").slice(0, 120)});
  });
  const canvas = document.createElement("canvas");
  document.querySelectorAll("figure").forEach((fig) => {
    const img = fig.querySelector("img");
    const caption = (fig.textContent || (img && img.alt) || "").trim().slice(0, 120);
    if (!img) { out.push({kind: "empty figure", where: section(fig), text: caption || "no image"}); return; }
    if (img.naturalWidth === 0) return;
    const w = Math.min(img.naturalWidth, 400), h = Math.max(1, Math.round(img.naturalHeight * w / img.naturalWidth));
    canvas.width = w; canvas.height = h;
    const g = canvas.getContext("2d"); g.drawImage(img, 0, 0, w, h);
    let coloured = 0;
    try { const d = g.getImageData(0, 0, w, h).data;
      for (let i = 0; i < d.length; i += 4) if (Math.max(d[i], d[i+1], d[i+2]) - Math.min(d[i], d[i+1], d[i+2]) > 6) coloured++;
    } catch (e) { coloured = -1; }
    if (coloured >= 0 && coloured < 30) out.push({kind: "empty figure", where: section(fig), text: caption});
  });
  const body = document.body, cs = getComputedStyle(body);
  const column = body.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  const page = document.documentElement.clientWidth;
  document.querySelectorAll("table").forEach((t) => {
    if (!t.offsetParent) return;  // not displayed (inside a closed <details>)
    const r = t.getBoundingClientRect();
    if (t.scrollWidth > column + 1 || r.right > page + 1)
      out.push({kind: "wide table", where: section(t), text: `${Math.round(t.scrollWidth)} px > ${Math.round(column)} px: ` +
                (t.previousElementSibling ? t.previousElementSibling.textContent.trim().slice(0, 100) : "")});
  });
  const badText = (text, where) => {
    const bad = /(^|[^A-Za-z_])(nan|NaN|None)(?![A-Za-z_])|failed:/g;
    let m;
    while ((m = bad.exec(text)) !== null) {
      const at = m.index + (m[1] ? m[1].length : 0);
      out.push({kind: "bad text", where: where, text: text.slice(Math.max(0, at - 60), at + 60).replace(/\s+/g, " ")});
    }
  };
  const walk = (el) => {  // each section with its title, the rest of the page as "page"
    for (const child of el.children) {
      if (child.tagName === "SECTION") badText(child.innerText, title(child));
      else if (child.querySelector("section")) walk(child);
      else if (child.tagName !== "SCRIPT") badText(child.innerText || "", "page");
    }
  };
  walk(body);
  const pre = document.createElement("pre"); pre.id = "__MARK__"; pre.hidden = true;
  pre.textContent = JSON.stringify({findings: out, height: document.documentElement.scrollHeight});
  body.appendChild(pre);
  if (shot) body.style.marginTop = `${-Number(shot[1]) * window.innerHeight}px`;  // headless shots ignore scrolling
});
</script>
""".replace("__MARK__", MARK)


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str
    text: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where + ': ' if self.where else ''}{self.text}"


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium binary: ``explicit``, else the first of :data:`BROWSERS` on the PATH (None when none)."""
    if explicit:
        return explicit if Path(explicit).is_file() or shutil.which(explicit) else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _chromium(binary: str, *args: str, height: int = HEIGHT, timeout: float = 180.0) -> str:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
           f"--window-size={WIDTH},{height}", "--virtual-time-budget=10000", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def check_report(html: Path, *, out: Path | None = None, chromium: str | None = None, shots: int = 40) -> tuple[list[Finding], list[Path]]:
    """Render ``html`` in headless Chromium: the findings (empty when the page is clean) and the screenshots
    (at most ``shots``, each :data:`SHOT_HEIGHT` px of the page from the top; none when ``out`` is None)."""
    binary = find_chromium(chromium)
    if binary is None:
        raise FileNotFoundError(f"no Chromium found (tried {', '.join(BROWSERS)}): install it or pass --chromium PATH")
    page = Path(html).read_text(encoding="utf-8")
    findings = [Finding("unrendered figure", "", "a figure placeholder was left in the page")] if "<!--report-figure-" in page else []
    with tempfile.TemporaryDirectory(prefix="report_check_") as tmp:
        copy = Path(tmp) / "index.html"
        copy.write_text(page.replace("</body>", SCRIPT + "</body>") if "</body>" in page else page + SCRIPT, encoding="utf-8")
        dom = _chromium(binary, "--dump-dom", copy.as_uri())
        found = re.search(rf'<pre id="{MARK}"[^>]*>(.*?)</pre>', dom, re.S)
        if found is None:
            raise RuntimeError("the checking script did not run in the page (no result in the rendered DOM)")
        import html as html_lib

        result = json.loads(html_lib.unescape(found.group(1)))
        findings += [Finding(**f) for f in result["findings"]]
        paths: list[Path] = []
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for old in out.glob("page-*.png"):
                old.unlink()
            step = SHOT_HEIGHT - 100  # the browser's inner height is a little less than its window
            for k in range(min(shots, -(-int(result["height"]) // step))):
                path = out / f"page-{k:02d}.png"
                _chromium(binary, f"--screenshot={path}", f"{copy.as_uri()}#shot={k}", height=SHOT_HEIGHT)
                paths.append(path)
    return findings, paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report_check", description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default="data/report/index.html", help="the report (default: %(default)s)")
    parser.add_argument("--out", default="report_check", help="screenshot folder (default: %(default)s)")
    parser.add_argument("--no-screenshots", action="store_true", help="check only")
    parser.add_argument("--chromium", help="the Chromium binary (default: found on the PATH)")
    args = parser.parse_args(argv)
    html = Path(args.html)
    if not html.is_file():
        print(f"report_check: {html} does not exist (run the report stage first)", file=sys.stderr)
        return 2
    out = None if args.no_screenshots else Path(args.out)
    try:
        findings, shots = check_report(html, out=out, chromium=args.chromium)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"report_check: {exc}", file=sys.stderr)
        return 2
    for f in findings:
        print(f)
    if shots:
        print(f"{len(shots)} screenshot(s) in {shots[0].parent}")
    print(f"{len(findings)} problem(s) in {html}" if findings else f"no problems in {html}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
