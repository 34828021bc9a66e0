#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (issue 22), written into a corpus directory outside the
repository: files from tests/data, assets, the shared glTF and QR corpora (QR photos downscaled
to small grey frames), and generated cases. Idempotent: a seed is named by its content hash.

usage: seeds.py REPO SHARED_CORPUS CORPUS_ROOT TARGET...
"""

import base64
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import zipfile

# Seeds above this size slow every execution of their target for little coverage.
MAX_SEED = 256 * 1024


def write(corpus, data):
    if not data or len(data) > MAX_SEED:
        return
    os.makedirs(corpus, exist_ok=True)
    path = os.path.join(corpus, "seed-" + hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)


def files_under(root, *suffixes):
    for top, _dirs, names in os.walk(root):
        for name in sorted(names):
            if name.lower().endswith(suffixes):
                yield os.path.join(top, name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def package_dirs(repo):
    for top, _dirs, names in os.walk(os.path.join(repo, "tests", "data")):
        if "guide.json" in names or "README.txt" in names:
            yield top
    yield os.path.join(repo, "assets", "demo")


def zip_dir(root, compression):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for path in files_under(root, ""):
            z.write(path, os.path.relpath(path, root))
    return out.getvalue()


def guide_json(repo, shared, corpus):
    for root in package_dirs(repo):
        path = os.path.join(root, "guide.json")
        if os.path.exists(path):
            write(corpus, read(path))


def guide_package(repo, shared, corpus):
    for root in package_dirs(repo):
        for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            write(corpus, zip_dir(root, compression))


def guide_link(repo, shared, corpus):
    guide = "3f2c1a9e-7b4d-4c1e-9a2b-5d6e7f8a9b0c"
    for link in [
        f"hologuide://acme/g/{guide}",
        f"hologuide://acme/g/{guide}/s/3",
        f"hologuide://acme-plant-2/g/{guide}/s/4294967295",
        f"https://guides.example.com/acme/g/{guide}",
        f"https://guides.example.com/acme/g/{guide}/s/12",
        f"HOLOGUIDE://Acme/g/{guide.upper()}",
        f"hologuide://acme/g/{guide}?sig=abc",
        "hologuide://",
    ]:
        write(corpus, link.encode())


def inline_gltf(path):
    """A .gltf with its external buffers and images as data: URIs, so one input holds it all."""
    try:
        document = json.loads(read(path))
    except ValueError:
        return read(path)
    base = os.path.dirname(path)
    for kind in ("buffers", "images"):
        for item in document.get(kind, []):
            uri = item.get("uri")
            if not uri or uri.startswith("data:"):
                continue
            file = os.path.join(base, uri.replace("%20", " "))
            if not os.path.exists(file) or os.path.getsize(file) > MAX_SEED:
                continue
            payload = base64.b64encode(read(file)).decode()
            item["uri"] = "data:application/octet-stream;base64," + payload
    return json.dumps(document).encode()


def model_gltf(repo, shared, corpus):
    roots = [os.path.join(shared, "gltf"), os.path.join(repo, "tests", "data"),
             os.path.join(repo, "assets", "demo")]
    for root in roots:
        for path in files_under(root, ".glb"):
            write(corpus, read(path))
        for path in files_under(root, ".gltf"):
            write(corpus, inline_gltf(path))


def texture_image(repo, shared, corpus):
    roots = [os.path.join(shared, "gltf"), os.path.join(repo, "tests", "data")]
    for root in roots:
        for path in files_under(root, ".png", ".jpg", ".jpeg", ".webp", ".ktx2"):
            if os.path.getsize(path) <= 64 * 1024:
                write(corpus, read(path))


def ppm_grey(data):
    """Grey pixels of a binary PPM (P6, maxval 255)."""
    fields, position = [], 0
    while len(fields) < 4:
        while data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":
            position = data.index(b"\n", position)
            continue
        end = position
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[position:end])
        position = end
    width, height = int(fields[1]), int(fields[2])
    rgb = data[position + 1:]
    grey = bytes((rgb[i] * 77 + rgb[i + 1] * 150 + rgb[i + 2] * 29) >> 8
                 for i in range(0, width * height * 3, 3))
    return width, height, grey


def downscale(width, height, grey, longest):
    factor = max(1, -(-max(width, height) // longest))
    w, h = width // factor, height // factor
    out = bytearray(w * h)
    for y in range(h):
        for x in range(w):
            total = 0
            for dy in range(factor):
                row = (y * factor + dy) * width + x * factor
                total += sum(grey[row:row + factor])
            out[y * w + x] = total // (factor * factor)
    return w, h, bytes(out)


def qr_frame(repo, shared, corpus):
    # The target's input: width (u16 LE), height (u16 LE), row padding (u8), then the pixels.
    for path in files_under(os.path.join(shared, "qr", "images"), ".png"):
        try:
            ppm = subprocess.run(["convert", path, "ppm:-"], capture_output=True,
                                 check=True, timeout=30).stdout
            width, height, grey = ppm_grey(ppm)
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            continue
        # 96 pixels on the longer side: a code still resolves, and an execution stays short.
        w, h, pixels = downscale(width, height, grey, 96)
        if w and h:
            write(corpus, struct.pack("<HHB", w, h, 0) + pixels)
    # Generated: a flat frame, a checkerboard, a padded stride.
    write(corpus, struct.pack("<HHB", 64, 64, 0) + bytes([255]) * 4096)
    write(corpus, struct.pack("<HHB", 64, 64, 0) +
          bytes(255 * ((x // 8 + y // 8) % 2) for y in range(64) for x in range(64)))
    write(corpus, struct.pack("<HHB", 40, 30, 7) + bytes(range(256)) * 6)


def qr_codewords(repo, shared, corpus):
    # The target's input: version, ecc level, corrected flag, then codewords. Zero codewords
    # are a valid Reed-Solomon codeword of every block layout (version 1-40).
    for version in (1, 2, 5, 7, 10, 27, 40):
        for ecc in range(4):
            write(corpus, bytes([version, ecc, 0]) + bytes(3706 if version == 40 else 400))
    # Corrected data: numeric, alphanumeric, byte, ECI (UTF-8), FNC1, structured append, Kanji.
    for data in [
        bytes.fromhex("10 20 0c 56 61 80 ec 11 ec 11"),
        bytes.fromhex("20 5b 0b 78 d1 72 dc 4d 43 40 ec 11"),
        bytes.fromhex("40 c6 86 f6 c6 f6 77 56 96 46 50 ec 11"),
        bytes.fromhex("71 a4 02 c3 a9 00 ec 11"),
        bytes.fromhex("50 10 20 0c 56 61 80 ec"),
        bytes.fromhex("30 12 40 41 00 ec 11"),
        bytes.fromhex("80 1a a0 00 ec 11 ec 11"),
        bytes.fromhex("d1 01 a0 00 ec 11"),
    ]:
        for version in (1, 10, 27):
            write(corpus, bytes([version, 0, 1]) + data)


def cache_blob_file(repo, shared, corpus):
    # The target's input: recorded size (enum: 4 bytes, then a u64 for "any"), threads, file.
    header = b"HGBLOB2\0" + bytes(range(8))
    matching = bytes(4)
    for file in (header, header + bytes(28), header + bytes(28 + 100), b"HGBLOB1\0" + bytes(40)):
        write(corpus, matching + b"\x01" + file)
        write(corpus, b"\xff\xff\xff\xff" + struct.pack("<Q", 2**64 - 1) + b"\x04" + file)
        write(corpus, b"\xff\xff\xff\xff" + struct.pack("<Q", 65536 * 20) + b"\x04" + file)


def service_json_body(repo, shared, corpus):
    device = "5b0e4f7a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
    guide = "3f2c1a9e-7b4d-4c1e-9a2b-5d6e7f8a9b0c"
    bodies = {
        0: {"username": "ana", "password": "correct horse", "device_id": device},
        1: {"refresh_token": "rt_abc"},
        2: {"username": "ben", "password": "long enough secret", "role": "author",
            "organisation": "acme", "groups": ["line-2"]},
        3: {"username": "ben"},
        4: {"tags": ["press", "line-2"]},
        5: {"events": [{"id": device, "kind": "step_viewed", "guide_id": guide,
                        "at": "2026-01-02T03:04:05Z", "step_id": "s1", "duration_ms": 1200}],
            "summaries": [{"id": device, "sessions": 2, "events": 3,
                           "by_kind": {"step_viewed": 3}, "duration_ms": 5,
                           "first_at": "2026-01-02T03:04:05Z",
                           "last_at": "2026-01-02T04:04:05+01:00"}]},
        6: {"results": [{"id": device, "guide_id": guide, "version": 2, "step_id": "s2",
                         "completed_at": "2026-01-02T03:04:05.123Z", "value": {"mm": 3.5}}]},
        7: {"name": "line 2", "description": "", "guide_ids": [guide], "tags": ["press"],
            "modified_within_days": None},
        8: {"kind": "group", "name": "line-2"},
    }
    for which, body in bodies.items():
        write(corpus, bytes([which]) + json.dumps(body).encode())
        write(corpus, bytes([which]) + b"{}")


SEEDERS = {name: function for name, function in globals().items()
           if callable(function) and name in {
               "guide_json", "guide_package", "guide_link", "model_gltf", "texture_image",
               "qr_frame", "qr_codewords", "cache_blob_file", "service_json_body"}}


def main():
    repo, shared, corpus_root, *targets = sys.argv[1:]
    for target in targets:
        SEEDERS[target](repo, shared, os.path.join(corpus_root, target))


if __name__ == "__main__":
    main()
