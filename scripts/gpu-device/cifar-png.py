"""Writes the first N images of a CIFAR-10 binary batch as PNG files (standard library only), for `dfbnet stream`.
   python3 cifar-png.py BATCH.bin OUT_DIR N"""
import os
import struct
import sys
import zlib


def png(width, height, rgb_rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + row for row in rgb_rows)  # filter type 0 per row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main(batch, out, count):
    os.makedirs(out, exist_ok=True)
    with open(batch, "rb") as f:
        data = f.read()
    for i in range(min(count, len(data) // 3073)):
        record = data[i * 3073 + 1:(i + 1) * 3073]  # label byte, then 1024 R, 1024 G, 1024 B
        rows = [bytes(record[c * 1024 + y * 32 + x] for x in range(32) for c in range(3)) for y in range(32)]
        with open(os.path.join(out, f"{i:05d}.png"), "wb") as f:
            f.write(png(32, 32, rows))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
