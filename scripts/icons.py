#!/usr/bin/env python3
"""Draws the installed app's icons into public/ (PNG, standard library only): a white speech bubble
on chinwag's green, 192 and 512 px with rounded corners, and a 512 px maskable one whose bubble
stays inside the centre circle any platform's mask keeps (80% of the side).

    python3 scripts/icons.py
"""
import struct
import zlib
from pathlib import Path

GREEN = (0x1F, 0x6F, 0x5C)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # per axis, for smooth edges


def rounded_rect(x, y, left, top, right, bottom, radius):
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2 and left <= x <= right and top <= y <= bottom


def bubble(x, y):
    """The bubble in a unit square: a rounded body and a tail at its lower left."""
    body = rounded_rect(x, y, 0.0, 0.0, 1.0, 0.72, 0.2)
    # The tail: a triangle below the body's left part.
    tail = 0.72 <= y <= 0.95 and 0.16 <= x <= 0.42 and (x - 0.16) <= (0.42 - 0.16) * (0.95 - y) / 0.23
    return body or tail


def dot(x, y):
    """The three dots inside the bubble."""
    return any((x - cx) ** 2 + (y - 0.36) ** 2 <= 0.075**2 for cx in (0.27, 0.5, 0.73))


def draw(size, maskable):
    rows = []
    # The bubble's box in the icon: centred a little high, so bubble and tail look balanced.
    scale = 0.5 if maskable else 0.6
    left = (1 - scale) / 2
    top = (1 - scale * 0.95) / 2
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) / size
                    y = (py + (sy + 0.5) / SAMPLES) / size
                    inside = maskable or rounded_rect(x, y, 0, 0, 1, 1, 0.22)
                    if not inside:
                        continue
                    bx, by = (x - left) / scale, (y - top) / scale
                    colour = WHITE if bubble(bx, by) and not dot(bx, by) else GREEN
                    for i in range(3):
                        acc[i] += colour[i]
                    acc[3] += 255
            n = SAMPLES * SAMPLES
            alpha = acc[3] // n
            if alpha == 0:
                row += bytes(4)
            else:
                covered = acc[3] // 255
                row += bytes([acc[0] // covered, acc[1] // covered, acc[2] // covered, alpha])
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size, raw):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    public = Path(__file__).resolve().parent.parent / "public"
    for name, size, maskable in [
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ]:
        (public / name).write_bytes(draw(size, maskable))
        print(name)
