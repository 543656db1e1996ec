#!/usr/bin/env python3
"""Dump the tokenizer metadata of a vocab-only GGUF (v2/v3) file as JSON.

Usage: gguf_vocab.py FILE.gguf > out.json
Only the key/value section is read (tensor infos and data are ignored), so no numpy is needed.
"""
import json
import struct
import sys

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_value(f, vtype):
    if vtype in SCALARS:
        fmt = SCALARS[vtype]
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
    if vtype == 8:
        (n,) = struct.unpack("<Q", f.read(8))
        return f.read(n).decode("utf-8", errors="surrogateescape")
    if vtype == 9:
        (itype,) = struct.unpack("<I", f.read(4))
        (count,) = struct.unpack("<Q", f.read(8))
        return [read_value(f, itype) for _ in range(count)]
    raise ValueError(f"unknown GGUF value type {vtype}")


def main(path):
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        (version,) = struct.unpack("<I", f.read(4))
        _, kv_count = struct.unpack("<QQ", f.read(16))
        meta = {}
        for _ in range(kv_count):
            key = read_value(f, 8)
            (vtype,) = struct.unpack("<I", f.read(4))
            meta[key] = read_value(f, vtype)
    out = {k[len("tokenizer.ggml."):]: v for k, v in meta.items() if k.startswith("tokenizer.ggml.")}
    out["gguf_version"] = version
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
