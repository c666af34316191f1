#!/usr/bin/env python3
"""Draws ScratchNet's package icon (docs/icon.png, 128x128 RGBA): a small 3-4-2 network, nodes and
edges, on a rounded dark tile. Standard library only (zlib PNG), so anyone can redraw it."""
import math
import struct
import sys
import zlib

SIZE = 128
BG = (31, 41, 55)        # slate tile
EDGE = (148, 163, 184)   # grey-blue lines
NODE = (250, 204, 21)    # amber nodes
OUT = (56, 189, 248)     # sky-blue outputs


def blend(pixels, x, y, colour, alpha):
    if 0 <= x < SIZE and 0 <= y < SIZE and alpha > 0:
        r, g, b, a = pixels[y][x]
        pixels[y][x] = (round(r + (colour[0] - r) * alpha), round(g + (colour[1] - g) * alpha),
                        round(b + (colour[2] - b) * alpha), max(a, round(255 * alpha)))


def coverage(distance):
    """Anti-aliased coverage of a pixel whose centre is `distance` inside (negative) or outside an edge."""
    return min(1.0, max(0.0, 0.5 - distance))


def draw(layers):
    pixels = [[(0, 0, 0, 0)] * SIZE for _ in range(SIZE)]
    radius, inset = 22, 4
    for y in range(SIZE):                            # rounded square tile
        for x in range(SIZE):
            cx = min(max(x + 0.5, inset + radius), SIZE - inset - radius)
            cy = min(max(y + 0.5, inset + radius), SIZE - inset - radius)
            blend(pixels, x, y, BG, coverage(math.hypot(x + 0.5 - cx, y + 0.5 - cy) - radius))
    columns = [26 + i * (76 / (len(layers) - 1)) for i in range(len(layers))]
    nodes = [[(columns[i], 64 + (j - (n - 1) / 2) * 24) for j in range(n)] for i, n in enumerate(layers)]
    for left, right in zip(nodes, nodes[1:]):         # edges, 1.6 px wide
        for (x0, y0) in left:
            for (x1, y1) in right:
                for y in range(SIZE):
                    for x in range(int(min(x0, x1)), int(max(x0, x1)) + 1):
                        px, py = x + 0.5, y + 0.5
                        t = max(0.0, min(1.0, ((px - x0) * (x1 - x0) + (py - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2)))
                        d = math.hypot(px - (x0 + t * (x1 - x0)), py - (y0 + t * (y1 - y0)))
                        blend(pixels, x, y, EDGE, 0.8 * coverage(d - 0.8))
    for i, column in enumerate(nodes):                # nodes, radius 7
        for (cx, cy) in column:
            for y in range(int(cy) - 9, int(cy) + 10):
                for x in range(int(cx) - 9, int(cx) + 10):
                    blend(pixels, x, y, OUT if i == len(nodes) - 1 else NODE, coverage(math.hypot(x + 0.5 - cx, y + 0.5 - cy) - 7))
    return pixels


def png(pixels):
    raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in pixels)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "docs/icon.png", "wb") as f:
        f.write(png(draw([3, 4, 2])))
