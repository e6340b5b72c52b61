"""The gate at the jail's door: what a custom job's ``/output`` may release for review.

After the run, ``/output`` is read from outside the jail without following any
link. Every entry is judged by its name and type first, and the apparent sizes
of all files (what a reader would copy, sparse holes included) are added up
and capped *before* a byte is copied: a sparse file uses no room in the tmpfs
but would fill the host's disk when copied. Then each file is copied, at most
its stated size, and its content must match its suffix:

* PNG images (at most :data:`MAX_IMAGE_PIXELS` each, :data:`MAX_TOTAL_PIXELS`
  per job) are decoded in full (Pillow) and **re-encoded**: flattened on
  white, each channel cut to :data:`LEVELS` levels (three bits) with random
  dithering (triangular noise of one level, drawn from a seed that is fresh for
  every job and never kept), then mapped to a palette of at most
  :data:`PALETTE_COLOURS` colours. Whatever the code hid in ancillary chunks,
  after the image's end or in small differences between pixel values is gone,
  and no exact pixel value comes out as the code wrote it. What is left is what
  a person sees, and that can still carry data (large blocks of colour are read
  back whatever the noise): a person must look at every image and refuse any
  that looks like noise or a pattern rather than a chart;
* Parquet needs its magic at both ends and readable metadata;
* CSV, JSON and text must be strict UTF-8 without control characters; JSON must
  parse, and is parsed only up to :data:`MAX_JSON_BYTES` (a parsed document takes
  about 20 times its size in memory; larger JSON is refused: write CSV or Parquet).

The wrapper's memory stays bounded: files are copied and hashed in chunks,
images are capped in pixels and dithered in strips, JSON is capped before parsing.

Accepted files are released under names the sandbox chooses: ``file-1.csv``,
``file-2.png``, ... numbered in the order of their content's SHA-256, so
neither the names the code chose (which could spell out identifiers) nor their
order (a permutation of many files carries many bits) leaves the sandbox. The
code's names stay in the run report, for the reviewing stewards only.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

from jobs.kinds.custom.limits import Limits
from jobs.task import sha256_file

#: Suffixes an output file may have, and the format each claims.
OUTPUT_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".png": "png",
    ".txt": "txt",
}
#: An output name: a plain file name, no folder, no hidden file.
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_PNG = b"\x89PNG\r\n\x1a\n"
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"
_CHUNK = 1 << 20
#: Largest image (pixels) a job may release, and the most pixels of all its images together:
#: a small compressed PNG can hold a huge picture, and each is decoded in full.
MAX_IMAGE_PIXELS = 4_000_000
MAX_TOTAL_PIXELS = 16_000_000
#: Colours of a released image's palette.
PALETTE_COLOURS = 32
#: Levels each colour channel keeps (three bits), spread over 0..255 (black and white stay).
LEVELS = 8
_STEP = 255 / (LEVELS - 1)
_SNAP = [round(round(v / _STEP) * _STEP) for v in range(256)]
#: Rows of an image dithered at once (bounds the wrapper's memory).
_STRIP_ROWS = 256
#: Largest JSON output parsed (bigger ones are refused): parsing takes ~20x the size.
MAX_JSON_BYTES = 4 * 1024 * 1024
IMAGE_NOTE = (
    "no automatic check can read an image: the sandbox re-encoded each one (8 levels per "
    "colour with random dithering, a palette of 32 colours, no metadata), which removes "
    "content hidden in small pixel differences, but an image still carries whatever it "
    "visibly shows: a person must look at every image, and refuse any that looks like "
    "noise, stripes or a pattern rather than a chart, before approving"
)


def collect(
    output_fd: int, limits: Limits, scratch: str, *, released: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Check every entry of the jail's ``/output`` from outside; copy the accepted files out.

    Args:
        output_fd: Directory descriptor of ``/output`` (the jail has ended).
        limits: The run's limits (file count, bytes).
        scratch: A private host folder the accepted files are copied into.
        released: ``False`` (a failed run): every file is refused, and listed.

    Returns:
        (accepted files as ``{"name", "code_name", "format", "bytes", "sha256",
        "path"}``, in the order of their released names ``file-N.<suffix>``;
        refused entries as ``{"name", "reason"}`` in name order). ``code_name``
        and the refused names are what the code chose (sanitized): for the
        reviewing stewards only.
    """
    names: list[str] = []
    with os.scandir(output_fd) as entries:
        for entry in entries:
            names.append(entry.name)
            if len(names) > limits.output_files:
                return [], [
                    {"name": "*", "reason": f"more than {limits.output_files} files in /output"}
                ]
    rejected: list[dict[str, str]] = []
    sizes: dict[str, int] = {}
    for name in sorted(names):
        reason, size = _refusal(output_fd, name, limits)
        if reason is None and not released:
            reason = "the run failed; nothing is released"
        if reason is not None:
            rejected.append({"name": _sanitize(name), "reason": reason})
        else:
            sizes[name] = size
    if sum(sizes.values()) > limits.output_bytes:
        # Sparse files take no room in the tmpfs; their stated sizes count here.
        return [], [
            {
                "name": "*",
                "reason": f"the files in /output state more than {limits.output_bytes} bytes "
                "together (sparse files count at their full size); nothing is released",
            }
        ]
    files: list[dict[str, Any]] = []
    pixels = [MAX_TOTAL_PIXELS]
    # A fresh, unkept seed per job: the code cannot predict the images' dithering.
    seed = secrets.randbits(128)
    for number, (name, size) in enumerate(sizes.items()):
        copy = Path(scratch) / f"out-{number:04d}"
        reason = _copy_checked(output_fd, name, size, copy, pixels, seed + number)
        if reason is not None:
            rejected.append({"name": _sanitize(name), "reason": reason})
            continue
        digest = sha256_file(copy)
        fmt = OUTPUT_FORMATS[Path(name).suffix.lower()]
        files.append(
            {
                "code_name": name,
                "format": fmt,
                "bytes": copy.stat().st_size,
                "sha256": digest,
                "path": str(copy),
            }
        )
    files.sort(key=lambda f: (f["sha256"], f["format"]))
    for number, f in enumerate(files, start=1):
        f["name"] = f"file-{number}.{f['format']}"
    rejected.sort(key=lambda r: r["name"])
    return [_ordered(f) for f in files], rejected


def _ordered(f: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "code_name", "format", "bytes", "sha256", "path")
    return {k: f[k] for k in keys}


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "?", name)[:100]


def _refusal(dir_fd: int, name: str, limits: Limits) -> tuple[str | None, int]:
    """Why an entry is refused by its name, type and stated size (``None``: it is not)."""
    if not _OUTPUT_NAME.match(name):
        return "name not allowed (letters, digits, '_', '.', '-'; at most 100)", 0
    if Path(name).suffix.lower() not in OUTPUT_FORMATS:
        return f"suffix not allowed (allowed: {', '.join(sorted(OUTPUT_FORMATS))})", 0
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return "cannot be read", 0
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link", 0
    if stat.S_ISDIR(st.st_mode):
        return "a folder (only files directly in /output are collected)", 0
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (FIFO, socket or device)", 0
    if st.st_nlink != 1:
        return "a hard link", 0
    if st.st_size > limits.file_size_bytes:
        return f"states more than {limits.file_size_bytes} bytes", 0
    return None, st.st_size


def _copy_checked(
    dir_fd: int, name: str, size: int, copy: Path, pixels: list[int], seed: int
) -> str | None:
    """Copy ``name`` out (at most ``size`` bytes) without following links; check its content."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return "cannot be opened"
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file (FIFO, socket or device)"
        left = size
        with copy.open("wb") as dst:
            while left > 0 and (chunk := src.read(min(_CHUNK, left))):
                dst.write(chunk)
                left -= len(chunk)
        if src.read(1):
            copy.unlink()
            return "grew while it was read"
    fmt = OUTPUT_FORMATS[Path(name).suffix.lower()]
    reason = _reencode_png(copy, pixels, seed) if fmt == "png" else _sniff(copy, fmt)
    if reason is not None:
        copy.unlink()
    return reason


def _sniff(path: Path, fmt: str) -> str | None:
    """Whether a table or text is what its suffix claims (``None``) or why not.

    The service's automatic checks look deeper (:mod:`sandbox.checks.engine`); this is
    the gate at the jail's door.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    if fmt == "parquet":
        if size < 12 or head[:4] != b"PAR1" or tail != b"PAR1":
            return "not a Parquet file (no Parquet magic at both ends)"
        import pyarrow.parquet as pq

        try:
            pq.read_metadata(path)
        except Exception:
            return "not a readable Parquet file"
        return None
    return _check_text(path, fmt)


def _check_text(path: Path, fmt: str) -> str | None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                if len(chunk.translate(None, _CONTROL)) != len(chunk):
                    return "text with control characters"
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "not UTF-8 text"
    if fmt == "json":
        if path.stat().st_size > MAX_JSON_BYTES:
            return f"JSON larger than {MAX_JSON_BYTES} bytes (write a table as CSV or Parquet)"
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError):
            return "not valid JSON"
    return None


def _reencode_png(path: Path, pixels: list[int], seed: int) -> str | None:
    """Decode a PNG in full and replace it by its re-encoding (see the module); or why not.

    Args:
        path: The copied file; rewritten in place when accepted.
        pixels: ``[pixels the job's images may still use]``, decreased here.
        seed: The dithering noise's seed (secret, fresh per job).
    """
    from PIL import Image

    with path.open("rb") as handle:
        if handle.read(8) != _PNG:
            return "not a PNG image (no PNG signature)"
    try:
        with Image.open(path, formats=["PNG"]) as probe:
            width, height = probe.size
            if width * height > MAX_IMAGE_PIXELS:
                return f"an image of more than {MAX_IMAGE_PIXELS} pixels"
            if width * height > pixels[0]:
                return f"the images hold more than {MAX_TOTAL_PIXELS} pixels together"
            pixels[0] -= width * height
            probe.verify()  # chunk order and checksums
        with Image.open(path, formats=["PNG"]) as image:
            image.load()  # every pixel decoded: a truncated or damaged image fails here
            flat = _flatten(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return "not a readable PNG image"
    levels = _dither(flat, seed)
    quantized = levels.quantize(
        colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    palette = quantized.getpalette() or []
    quantized.putpalette([_SNAP[v] for v in palette])
    buffer = io.BytesIO()
    quantized.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return None


def _dither(image: Any, seed: int) -> Any:
    """``image`` (RGB) cut to :data:`LEVELS` levels per channel, with random dithering.

    Triangular noise of up to one level is added before rounding, so a value
    between two levels comes out as either, at random: the exact values the
    code wrote (and small differences between them) do not come back.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = image.size
    out = Image.new("RGB", image.size)
    for top in range(0, height, _STRIP_ROWS):
        box = (0, top, width, min(height, top + _STRIP_ROWS))
        strip = np.asarray(image.crop(box), dtype=np.float32) / np.float32(_STEP)
        strip += rng.random(strip.shape, dtype=np.float32)
        strip -= rng.random(strip.shape, dtype=np.float32)
        np.rint(strip, out=strip)
        np.clip(strip, 0, LEVELS - 1, out=strip)
        strip *= np.float32(_STEP)
        np.rint(strip, out=strip)
        out.paste(Image.fromarray(strip.astype(np.uint8), "RGB"), box)
    return out


def _flatten(image: Any) -> Any:
    """The image as RGB, transparent parts laid on white (alpha can carry a payload too)."""
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = image.point(lambda v: v / 256).convert("L")  # 16-bit grey: keep the upper byte
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")
