#!/usr/bin/env python3
# Tiny valid images for the image fuzz targets' seeds (what and why: the docstring).
"""Writes tiny valid images into a seed directory for the image fuzz targets.

The shared corpus has real files but no small complete JPEG, PNG or GIF:
its prefixes stop mid-stream, so the fuzzer would rarely get past the
decoders into resize, orientation and encode. These few-hundred-byte images
(Python stdlib only) decode fully in microseconds and cover the structures
the decoders branch on: every PNG colour type and bit depth, Adam7, tRNS,
eXIf, iCCP, text chunks, APNG; baseline and progressive JPEG (grey,
4:2:0, 4:2:2, 4:4:4, Adobe CMYK, restart markers, EXIF); GIF frames with offsets, local palettes,
interlace, transparency; lossless WebP, plain and in a VP8X container with
EXIF. scripts/fuzz.sh runs it; existing files are left alone.

    python3 fuzz/make_seeds.py DIR
"""
import struct
import sys
import zlib
from pathlib import Path

# EXIF (big-endian TIFF) with Orientation = 6, as PNG eXIf / WebP EXIF carry it.
EXIF_ORIENT_6 = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00"


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_rows(w, h, bits_per_pixel, seed):
    """Filter-type-0 scanlines of deterministic pixel bytes."""
    row_bytes = (w * bits_per_pixel + 7) // 8
    return [bytes([0]) + bytes((seed + 37 * y + 11 * x) & 0xFF for x in range(row_bytes)) for y in range(h)]


def adam7(w, h, bpp, seed):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = []
    for x0, y0, dx, dy in passes:
        pw, ph = len(range(x0, w, dx)), len(range(y0, h, dy))
        if pw and ph:
            out += png_rows(pw, ph, bpp, seed + x0 + y0)
    return out


def png(w, h, depth, color, interlace=0, extra=(), before_idat=()):
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    bpp = channels * depth
    rows = adam7(w, h, bpp, w + h) if interlace else png_rows(w, h, bpp, w + h)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    chunks = [png_chunk(b"IHDR", ihdr)]
    chunks += [png_chunk(k, d) for k, d in before_idat]
    chunks.append(png_chunk(b"IDAT", zlib.compress(b"".join(rows))))
    chunks += [png_chunk(k, d) for k, d in extra]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + png_chunk(b"IEND", b"")


def apng():
    """Two-frame APNG: the default image and one fdAT frame inside it."""
    w, h = 4, 4
    idat = zlib.compress(b"".join(png_rows(w, h, 32, 1)))
    fdat = zlib.compress(b"".join(png_rows(2, 2, 32, 9)))
    fctl = lambda seq, fw, fh, x, y: struct.pack(">IIIIIHHBB", seq, fw, fh, x, y, 1, 10, 0, 0)
    chunks = [
        png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)),
        png_chunk(b"acTL", struct.pack(">II", 2, 0)),
        png_chunk(b"fcTL", fctl(0, w, h, 0, 0)),
        png_chunk(b"IDAT", idat),
        png_chunk(b"fcTL", fctl(1, 2, 2, 1, 1)),
        png_chunk(b"fdAT", struct.pack(">I", 2) + fdat),
    ]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + png_chunk(b"IEND", b"")


def lzw_uncompressed(indices, min_code):
    """GIF LZW data that never grows the code table: a clear code every
    few codes, so each pixel index is one code of min_code + 1 bits."""
    clear, end, size = 1 << min_code, (1 << min_code) + 1, min_code + 1
    codes, run = [clear], 0
    for i in indices:
        if run == (1 << min_code) - 2:
            codes.append(clear)
            run = 0
        codes.append(i)
        run += 1
    codes.append(end)
    acc = nbits = 0
    out = bytearray()
    for c in codes:
        acc |= c << nbits
        nbits += size
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    blocks = b"".join(bytes([len(out[i : i + 255])]) + bytes(out[i : i + 255]) for i in range(0, len(out), 255))
    return bytes([min_code]) + blocks + b"\x00"


def gif_frame(x, y, w, h, local=None, interlace=False, gce=None):
    out = b""
    if gce is not None:  # (disposal, transparent index or None)
        disposal, transparent = gce
        flags = (disposal << 2) | (1 if transparent is not None else 0)
        out += b"\x21\xf9\x04" + struct.pack("<BHB", flags, 10, transparent or 0) + b"\x00"
    flags = (0x40 if interlace else 0) | (0x80 | 1 if local else 0)
    out += b"\x2c" + struct.pack("<HHHHB", x, y, w, h, flags) + (local or b"")
    return out + lzw_uncompressed([(x + y + i) % 4 for i in range(w * h)], 2)


def gif(sw, sh, frames):
    palette = bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    header = b"GIF89a" + struct.pack("<HHBBB", sw, sh, 0x80 | 1, 0, 0) + palette
    return header + b"".join(frames) + b"\x3b"


def vp8l(w, h, alpha):
    """Lossless WebP bitstream of one colour: five single-symbol prefix codes."""
    bits = [(0x2F, 8), (w - 1, 14), (h - 1, 14), (1 if alpha else 0, 1), (0, 3), (0, 1), (0, 1), (0, 1)]
    for symbol in (0x40, 0x80, 0xC0, 0xFF, 0):  # green, red, blue, alpha, distance
        bits += [(1, 1), (0, 1), (1, 1), (symbol, 8)]
    acc = nbits = 0
    for value, n in bits:
        acc |= value << nbits
        nbits += n
    return acc.to_bytes((nbits + 7) // 8, "little")


def riff(chunks):
    body = b"WEBP" + b"".join(k + struct.pack("<I", len(d)) + d + (b"\x00" if len(d) % 2 else b"") for k, d in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_vp8x_exif(w, h):
    flags = 0x08 | 0x10  # EXIF, alpha
    vp8x = struct.pack("<I", flags) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    return riff([(b"VP8X", vp8x), (b"VP8L", vp8l(w, h, True)), (b"EXIF", EXIF_ORIENT_6)])


# Standard luminance Huffman tables (JPEG Annex K), used for every component.
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_VALS = list(range(12))
AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]
AC_VALS = bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"
)


def huffman_codes(bits, vals):
    codes, code, k = {}, 0, 0
    for length, count in enumerate(bits, 1):
        for _ in range(count):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


DC_CODES, AC_CODES = huffman_codes(DC_BITS, DC_VALS), huffman_codes(AC_BITS, AC_VALS)


class Bits:
    """Entropy-coded segment writer with 0xFF byte stuffing."""

    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, code, length):
        self.acc, self.n = (self.acc << length) | code, self.n + length
        while self.n >= 8:
            byte = (self.acc >> (self.n - 8)) & 0xFF
            self.out += b"\xff\x00" if byte == 0xFF else bytes([byte])
            self.n -= 8

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        return bytes(self.out)


def segment(marker, data):
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def block(bits, dc_diff, ac, ss=0, se=63):
    """One block: a DC difference of -1, 0 or 1 (if ss == 0) and, if se > 0,
    one AC coefficient of +-1 (size 1) then end-of-block."""
    if ss == 0:
        cat = 0 if dc_diff == 0 else 1
        bits.put(*DC_CODES[cat])
        if cat:
            bits.put(1 if dc_diff > 0 else 0, 1)
    if se > 0:
        bits.put(*AC_CODES[0x01])
        bits.put(1 if ac > 0 else 0, 1)
        bits.put(*AC_CODES[0x00])


def jpeg(w, h, comps, progressive=False, restart=0, app=b""):
    """A valid JPEG whose blocks hold a DC step and one AC coefficient.
    comps: list of (h, v) sampling factors; 4 components are Adobe CMYK."""
    hmax, vmax = max(c[0] for c in comps), max(c[1] for c in comps)
    mcux, mcuy = -(-w // (8 * hmax)), -(-h // (8 * vmax))
    out = b"\xff\xd8" + app
    if len(comps) == 4:
        out += segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))
    out += segment(0xDB, b"\x00" + bytes(range(1, 65)))
    sof = struct.pack(">BHHB", 8, h, w, len(comps)) + b"".join(bytes([i + 1, (c[0] << 4) | c[1], 0]) for i, c in enumerate(comps))
    out += segment(0xC2 if progressive else 0xC0, sof)
    out += segment(0xC4, b"\x00" + bytes(DC_BITS) + bytes(DC_VALS)) + segment(0xC4, b"\x10" + bytes(AC_BITS) + AC_VALS)
    if restart:
        out += segment(0xDD, struct.pack(">H", restart))
    scans = [(list(range(len(comps))), 0, 0 if progressive else 63)]
    if progressive:  # DC of all components, then each component's AC band
        scans += [([i], 1, 63) for i in range(len(comps))]
    for ids, ss, se in scans:
        header = bytes([len(ids)]) + b"".join(bytes([i + 1, 0x00]) for i in ids) + bytes([ss, se, 0])
        out += segment(0xDA, header) + scan_data(comps, ids, ss, se, mcux, mcuy, w, h, restart)
    return out + b"\xff\xd9"


def scan_data(comps, ids, ss, se, mcux, mcuy, w, h, restart):
    """Interleaved MCUs, or a single component's blocks in raster order."""
    hmax, vmax = max(c[0] for c in comps), max(c[1] for c in comps)
    if len(ids) == 1:
        c = comps[ids[0]]
        bw, bh = -(-w * c[0] // (8 * hmax)), -(-h * c[1] // (8 * vmax))
        units = [[1] * (bw * bh)]
        count = bw * bh
    else:
        count = mcux * mcuy
        units = [[c[0] * c[1] for c in comps]] * count
    bits, out = Bits(), b""
    pred = 0
    for n in range(count):
        if restart and n and n % restart == 0:
            out += bits.flush() + bytes([0xFF, 0xD0 + (n // restart - 1) % 8])
            bits, pred = Bits(), 0
        for blocks in units[0] if len(ids) == 1 else units[n]:
            for b in range(blocks):
                target = (n + b) % 3 - 1
                block(bits, target - pred, 1 if (n + b) % 2 else -1, ss, se)
                pred = target
    return out + bits.flush()


def seeds():
    iccp = b"icc\x00\x00" + zlib.compress(bytes(range(256)) * 2)
    yield "gray1-8x2.png", png(8, 2, 1, 0)
    yield "gray4-5x3.png", png(5, 3, 4, 0)
    yield "gray8-4x3.png", png(4, 3, 8, 0)
    yield "gray16-3x2.png", png(3, 2, 16, 0)
    yield "rgb8-4x4.png", png(4, 4, 8, 2)
    yield "rgb16-3x3.png", png(3, 3, 16, 2)
    yield "palette-trns-4x4.png", png(4, 4, 8, 3, before_idat=[(b"PLTE", bytes(range(48))), (b"tRNS", b"\x00\x80")])
    yield "palette2-7x2.png", png(7, 2, 2, 3, before_idat=[(b"PLTE", bytes(range(12)))])
    yield "gray-alpha8-3x3.png", png(3, 3, 8, 4)
    yield "rgba8-4x4.png", png(4, 4, 8, 6)
    yield "rgba16-2x2.png", png(2, 2, 16, 6)
    yield "rgb8-adam7-9x9.png", png(9, 9, 8, 2, interlace=1)
    yield "rgba8-exif6-3x2.png", png(3, 2, 8, 6, extra=[(b"eXIf", EXIF_ORIENT_6)])
    yield "rgb8-iccp-text-2x2.png", png(2, 2, 8, 2, before_idat=[(b"iCCP", iccp), (b"tEXt", b"k\x00v"), (b"zTXt", b"k\x00\x00" + zlib.compress(b"v" * 64))])
    yield "rgb8-1x7.png", png(1, 7, 8, 2)
    yield "rgb8-7x1.png", png(7, 1, 8, 2)
    yield "apng-2-frames-4x4.png", apng()
    yield "gif-one-frame-4x4.gif", gif(4, 4, [gif_frame(0, 0, 4, 4)])
    yield "gif-two-frames-offset-6x5.gif", gif(6, 5, [gif_frame(0, 0, 6, 5, gce=(1, None)), gif_frame(2, 1, 3, 2, gce=(2, 3))])
    yield "gif-local-palette-interlaced-5x9.gif", gif(5, 9, [gif_frame(0, 0, 5, 9, local=bytes(range(12)), interlace=True)])
    yield "gif-transparent-3x3.gif", gif(3, 3, [gif_frame(0, 0, 3, 3, gce=(0, 0))])
    exif_app1 = segment(0xE1, b"Exif\x00\x00" + EXIF_ORIENT_6)
    yield "jpeg-gray-8x8.jpg", jpeg(8, 8, [(1, 1)])
    yield "jpeg-420-17x9.jpg", jpeg(17, 9, [(2, 2), (1, 1), (1, 1)])
    yield "jpeg-444-restart-24x16.jpg", jpeg(24, 16, [(1, 1), (1, 1), (1, 1)], restart=2)
    yield "jpeg-422-exif6-16x8.jpg", jpeg(16, 8, [(2, 1), (1, 1), (1, 1)], app=exif_app1)
    yield "jpeg-cmyk-16x16.jpg", jpeg(16, 16, [(1, 1)] * 4)
    yield "jpeg-progressive-420-33x17.jpg", jpeg(33, 17, [(2, 2), (1, 1), (1, 1)], progressive=True)
    yield "jpeg-progressive-gray-9x9.jpg", jpeg(9, 9, [(1, 1)], progressive=True)
    yield "webp-lossless-5x3.webp", riff([(b"VP8L", vp8l(5, 3, False))])
    yield "webp-lossless-alpha-exif-vp8x-4x6.webp", webp_vp8x_exif(4, 6)


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds():
        path = out / f"gen-{name}"
        if not path.exists():
            path.write_bytes(data)


if __name__ == "__main__":
    main()
