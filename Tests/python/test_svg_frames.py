"""`idamoe inspect --headless --format svg`: a frame as a picture (docs/format.md, "Frames as SVG").

- Every picture in docs/screens is what its command in DOC_SCREENS prints today, byte for byte (run
  from the repository root, as README and docs/format.md say), e.g.

      idamoe inspect fixtures/torch-run --headless --format svg --size 100x30 > docs/screens/overview.svg

  and a picture without a command fails. fixtures/torch-run holds only run.json and events.jsonl, so
  its frame is drawn from literal numbers (no routing, no BLAS). The Layer screens route the small
  checkpoint's 600 probe tokens (fixtures/tiny-ida.safetensors): their figures are rounded to 1-3
  decimals and its top-k choices are far from ties, so a BLAS kernel's last bits do not reach them;
  should another CPU ever move one, regenerate and say so in the commit.
- README's text Layer screen is what its command prints as text, the same way.
- Without colour the views draw the same cells for text and SVG, so the SVG's text runs, parsed with
  xml.etree and put back on the grid, are the text frame's rows on every screen.
- Chromium (Debian's `chromium`, installed by scripts/setup) draws the SVG headless; the screenshot,
  decoded here with zlib and numpy, shows each background run in its colour at the centre of its
  blank cells, and every text run's colour inside its cells. Missing chromium fails, never skips.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest

from binary_support import REPO, idamoe_binary

SVG = "{http://www.w3.org/2000/svg}"
CELL_W, CELL_H, BASELINE = 9, 18, 14  # SVGFrame in Sources/IdaTerminal/Style/SVGFrame.swift
DEFAULT_FG, DEFAULT_BG = "#d0d0d0", "#1c1c1c"
CHECKPOINT = ["fixtures/tiny-ida.safetensors", "--probe", "fixtures/tiny-probe.safetensors"]
SCREENS = REPO / "docs" / "screens"
# Each committed picture and the command that draws it (README, docs/results.md and docs/format.md link them).
DOC_SCREENS = {
    "overview.svg": ["inspect", "fixtures/torch-run", "--headless", "--format", "svg", "--size", "100x30"],
    "layer.svg": ["inspect", *CHECKPOINT, "--headless", "--format", "svg", "--size", "100x30", "--keys", "2"],
    "layer-takes.svg": ["inspect", *CHECKPOINT, "--headless", "--format", "svg", "--size", "100x30", "--keys", "2 t"],
}
DOC_SCREEN = SCREENS / "overview.svg"
README_LAYER_COMMAND = ["inspect", *CHECKPOINT, "--headless", "--size", "100x30", "--keys", "2"]


def idamoe(*args: str) -> str:
    """Runs the binary from the repository root; its standard output (it must exit 0)."""
    proc = subprocess.run([idamoe_binary(), *args], cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 0, f"idamoe {' '.join(args)}: exit {proc.returncode}\n{proc.stderr.decode()}"
    return proc.stdout.decode()


def columns(ch: str) -> int:
    """Terminal columns of one character here: East Asian wide and fullwidth take two."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def parse(svg: str) -> tuple[ET.Element, list[ET.Element], list[ET.Element]]:
    """The root, its rectangles and its text runs."""
    root = ET.fromstring(svg)
    return root, list(root.iter(SVG + "rect")), list(root.iter(SVG + "text"))


def text_rows(svg: str) -> list[str]:
    """The SVG's text runs put back on the cell grid, one string per row, trailing spaces trimmed."""
    root, _, texts = parse(svg)
    width, height = int(root.get("width")) // CELL_W, int(root.get("height")) // CELL_H
    rows = [[" "] * width for _ in range(height)]
    for t in texts:
        x, y = int(t.get("x")), int(t.get("y"))
        assert x % CELL_W == 0 and y % CELL_H == BASELINE, ET.tostring(t)
        column, row = x // CELL_W, y // CELL_H
        assert int(t.get("textLength")) == sum(columns(c) for c in t.text) * CELL_W, ET.tostring(t)
        for ch in t.text:
            rows[row][column] = ch
            if columns(ch) == 2:
                rows[row][column + 1] = ""
            column += columns(ch)
    return ["".join(r).rstrip(" ") for r in rows]


def shell(args: list[str]) -> str:
    """The command as a shell would take it (quoted where it has spaces)."""
    return " ".join(f'"{a}"' if " " in a else a for a in args)


def test_every_docs_screen_has_its_command():
    assert sorted(p.name for p in SCREENS.iterdir()) == sorted(DOC_SCREENS)


@pytest.mark.parametrize("name", sorted(DOC_SCREENS))
def test_docs_screen_is_current(name):
    command = DOC_SCREENS[name]
    assert (SCREENS / name).read_text() == idamoe(*command), (
        f"docs/screens/{name} is stale: from the repository root run\n"
        f"  idamoe {shell(command)} > docs/screens/{name}")


def test_readme_layer_screen_is_current():
    """The README's text screen: the fenced block that starts with the tab bar and shows Layer."""
    readme = (REPO / "README.md").read_text()
    assert " ".join(["idamoe", *README_LAYER_COMMAND]) in " ".join(readme.split()), "README no longer names the command"
    blocks = readme.split("```")[1::2]
    shown = next(b for b in blocks if b.lstrip("\n").startswith(" 1 Overview  2 Layer") and "┌ load" in b)
    assert shown.lstrip("\n") == idamoe(*README_LAYER_COMMAND), (
        "README's Layer screen is stale: paste the output of\n"
        f"  idamoe {shell(README_LAYER_COMMAND)}")


@pytest.mark.parametrize("arguments", [
    ["fixtures/torch-run", "--size", "100x30"],
    *[[*CHECKPOINT, "--size", "120x40", "--keys", key] for key in ["1", "2", "3", "4", "5", "?"]],
    [*CHECKPOINT, "--size", "80x24", "--ascii", "--keys", "2 v"],
], ids=lambda a: " ".join(a[a.index("--size"):]))
def test_svg_text_is_the_text_frame(arguments):
    base = ["inspect", *arguments, "--headless", "--no-color"]
    text = idamoe(*base)
    svg = idamoe(*base, "--format", "svg")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" ') and svg.endswith("</svg>\n")
    assert text_rows(svg) == text.rstrip("\n").split("\n")
    assert idamoe(*base, "--format", "text") == text


# ---- Chromium ---------------------------------------------------------------------------------------

def read_png(path: Path) -> np.ndarray:
    """An 8-bit RGB or RGBA, non-interlaced PNG as an [H, W, 3] uint8 array (alpha dropped)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None, f"{path}: no IHDR"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"{path}: unsupported PNG {header}"
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    assert len(raw) == height * (stride + 1), f"{path}: {len(raw)} bytes of pixel data"
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1).astype(np.int64)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: a running sum along each channel
            cur = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) & 0xFF
        elif kind == 2:  # Up
            cur = (line + prev) & 0xFF
        elif kind in (3, 4):  # Average, Paeth: each byte needs the one decoded before it
            l, p, c = line.tolist(), prev.tolist(), [0] * stride
            for i in range(stride):
                a = c[i - bpp] if i >= bpp else 0
                b = p[i]
                if kind == 3:
                    c[i] = (l[i] + ((a + b) >> 1)) & 0xFF
                    continue
                d = p[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - d), abs(a - d), abs(a + b - 2 * d)
                c[i] = (l[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else d)) & 0xFF
            cur = np.array(c, dtype=np.int64)
        else:
            raise AssertionError(f"{path}: row {y} has filter {kind}")
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)[:, :, :3]


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int64)


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory) -> tuple[str, np.ndarray]:
    """docs/screens/overview.svg as Chromium draws it at its own size, one CSS px a pixel."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium not found: ./scripts/setup installs it (apt-get install chromium)"
    tmp = tmp_path_factory.mktemp("svg-screenshot")
    svg = DOC_SCREEN.read_text()
    (tmp / "frame.svg").write_text(svg)
    root, _, _ = parse(svg)
    width, height = int(root.get("width")), int(root.get("height"))
    png = tmp / "frame.png"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--force-device-scale-factor=1", f"--user-data-dir={tmp / 'profile'}",
                           f"--window-size={width},{height}", f"--screenshot={png}", (tmp / "frame.svg").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and png.is_file(), f"chromium failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    image = read_png(png)
    assert image.shape == (height, width, 3), image.shape
    return svg, image


def glyph_cells(texts: list[ET.Element]) -> set[tuple[int, int]]:
    """(column, row) of every cell a visible glyph is drawn in."""
    cells = set()
    for t in texts:
        column, row = int(t.get("x")) // CELL_W, int(t.get("y")) // CELL_H
        for ch in t.text:
            if ch != " ":
                cells.update((column + k, row) for k in range(columns(ch)))
            column += columns(ch)
    return cells


def test_chromium_draws_the_backgrounds(screenshot):
    svg, image = screenshot
    root, rects, texts = parse(svg)
    width, height = int(root.get("width")) // CELL_W, int(root.get("height")) // CELL_H
    background = {(c, r): DEFAULT_BG for c in range(width) for r in range(height)}
    for rect in rects[1:]:
        if int(rect.get("height")) != CELL_H:
            continue  # an underline
        x, y, w = int(rect.get("x")), int(rect.get("y")), int(rect.get("width"))
        for c in range(x // CELL_W, (x + w) // CELL_W):
            background[(c, y // CELL_H)] = rect.get("fill")
    assert len(set(background.values())) >= 6, "the frame should hold several background colours"
    blank = sorted(set(background) - glyph_cells(texts))
    # The centre pixel of each blank cell: no glyph is drawn there, so it is the background itself
    # (a small tolerance for colour management; anti-aliasing never reaches a cell's centre).
    wrong = []
    for c, r in blank:
        pixel = image[r * CELL_H + CELL_H // 2, c * CELL_W + CELL_W // 2].astype(np.int64)
        if np.abs(pixel - rgb(background[(c, r)])).max() > 6:
            wrong.append((c, r, background[(c, r)], pixel.tolist()))
    assert not wrong, f"{len(wrong)} of {len(blank)} blank cells drawn in another colour, e.g. {wrong[:5]}"
    coloured = [cell for cell in blank if background[cell] != DEFAULT_BG]
    assert len(coloured) >= 20, "the sample should include coloured cells, not only the default background"


def test_chromium_draws_the_glyphs(screenshot):
    svg, image = screenshot
    _, _, texts = parse(svg)
    assert len(texts) >= 50
    missing = []
    for t in texts:
        column, row = int(t.get("x")) // CELL_W, int(t.get("y")) // CELL_H
        cells = sum(columns(ch) for ch in t.text)
        box = image[row * CELL_H:(row + 1) * CELL_H, column * CELL_W:(column + cells) * CELL_W].astype(np.int64)
        # Some pixel of the run is (nearly) its glyph colour; anti-aliased edges only blend toward it.
        nearest = np.abs(box - rgb(t.get("fill", DEFAULT_FG))).max(axis=2).min()
        if nearest > 40:
            missing.append((t.text, t.get("fill", DEFAULT_FG), int(nearest)))
    assert not missing, f"{len(missing)} of {len(texts)} text runs not drawn in their colour, e.g. {missing[:5]}"
    # Not blank: a good share of the frame's pixels are neither the default background nor any one colour.
    flat = image.reshape(-1, 3).astype(np.int64)
    assert (np.abs(flat - rgb(DEFAULT_BG)).max(axis=1) > 30).mean() > 0.05
