"""Render an analysis report.html in headless Chromium and check it as a reader would see it.

    python scripts/render_report.py runs/analysis/<folder>/report.html [--out DIR] [--width 1400]

Chromium (Debian's `chromium` package) loads the page once with a small probe script added to a temporary copy, which
records the page height and, for every image, whether it decoded and the size it is drawn at; then it screenshots
the whole page and cuts the screenshot into tiles of `--tile` pixels (`DIR/page-01.png`, ...) to look at. Prints one
line per image and exits 1 when an image failed to decode or is drawn with no size, 2 when Chromium is missing.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

# Written into the DOM on load, then read back from Chromium's --dump-dom.
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
    natural: [i.naturalWidth, i.naturalHeight], drawn: [i.clientWidth, i.clientHeight]}));
  const warn = [...document.querySelectorAll('.warn')].map(e => e.textContent);
  const out = {height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
               images: imgs, warnings: warn, tables: document.querySelectorAll('table').length};
  const pre = document.createElement('pre'); pre.id = 'render-probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""

MAX_HEIGHT = 60000   # Chromium's screenshot limit is near 64k pixels


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("error: no Chromium found; install Debian's package (apt-get install chromium) and run again")


def run_chromium(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    base = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-dev-shm-usage", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout)


def probe(page: Path, width: int) -> dict:
    """Load a copy of the page with PROBE added and read back what it recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
        done = run_chromium([f"--window-size={width},1000", "--dump-dom", copy.as_uri()])
    found = re.search(r'<pre id="render-probe">(.*?)</pre>', done.stdout, re.S)
    if not found:
        raise SystemExit(f"error: Chromium did not load {page} (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    import html
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, width: int, height: int, out: Path, tile: int) -> list[Path]:
    """The whole page at `width` x `height`, cut into tiles of at most `tile` pixels high."""
    whole = out / "page.png"
    done = run_chromium([f"--window-size={width},{height}", f"--screenshot={whole}", page.resolve().as_uri()])
    if not whole.is_file():
        raise SystemExit(f"error: Chromium wrote no screenshot (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    tiles = []
    with Image.open(whole) as im:
        for i, top in enumerate(range(0, im.height, tile), 1):
            part = im.crop((0, top, im.width, min(top + tile, im.height)))
            tiles.append(out / f"page-{i:02d}.png")
            part.save(tiles[-1])
    return tiles


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--out", type=Path, help="folder for the screenshots (default: <report folder>/screenshots)")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--tile", type=int, default=1800)
    args = ap.parse_args(argv)
    if not args.report.is_file():
        print(f"error: {args.report} is not a file; give the report.html an `analyze` wrote", file=sys.stderr)
        return 2
    try:
        found = probe(args.report, args.width)
        out = args.out or args.report.parent / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        height = min(int(found["height"]) + 20, MAX_HEIGHT)
        tiles = screenshot(args.report, args.width, height, out, args.tile)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    bad = [i for i in found["images"] if not i["ok"] or min(i["drawn"]) <= 0]
    for i in found["images"]:
        state = "ok" if i not in bad else "NOT SHOWN"
        print(f"{state:9s} {i['alt']:24s} {i['natural'][0]}x{i['natural'][1]} px, drawn at {i['drawn'][0]}x{i['drawn'][1]}")
    for w in found["warnings"]:
        print(f"warning on the page: {w}")
    print(f"{len(found['images'])} images, {found['tables']} tables, page {found['width']}x{found['height']} px"
          + (" (screenshot cut at the limit)" if found["height"] + 20 > MAX_HEIGHT else "")
          + f"; {len(tiles)} tiles in {out}")
    if found["width"] > args.width + 5:
        print(f"note: the page is wider than the window ({found['width']} > {args.width} px): something overflows")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
