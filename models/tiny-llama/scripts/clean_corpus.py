"""Cleans the raw corpora of fetch-corpora.sh into the tiny-llama pretraining text.

Each book chapter / speech becomes one document; hard-wrapped lines are joined into paragraphs (one paragraph per
line), typographic punctuation is mapped to ASCII, stage notes such as "(Applause.)" are dropped, and documents are
separated by <|endoftext|>. Every 20th document goes to the validation file. Deterministic: same input, same output.
Usage: clean_corpus.py RAW_DIR OUT_DIR
"""
import os
import re
import sys

SOTU_FIRST_YEAR = 2001   # keeps the repository lean: the addresses of this century
EOT = "<|endoftext|>"
ASCII = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": "--", "\u2013": "-",
         "\u2026": "...", "\u00a0": " ", "\u00e6": "ae", "\u00c6": "Ae", "\u0153": "oe", "\u00e9": "e", "\u00e8": "e",
         "\u00e0": "a", "\u00e2": "a", "\u00ea": "e", "\u00ee": "i", "\u00f4": "o", "\u00fb": "u", "\u00e7": "c",
         "\u00ef": "i", "\u00fc": "u", "\u00f6": "o", "\u00e4": "a", "\u00e1": "a", "\u00ed": "i", "\u00f3": "o",
         "\u00fa": "u", "\u00f1": "n"}


def to_ascii(text):
    for k, v in ASCII.items():
        text = text.replace(k, v)
    return text


def paragraphs(text):
    """Joins wrapped lines: blank lines separate paragraphs; returns them one per line."""
    text = to_ascii(text.replace("\r\n", "\n").replace("\r", "\n"))
    paras = []
    for block in re.split(r"\n\s*\n", text):
        line = " ".join(part.strip() for part in block.split("\n") if part.strip())
        line = re.sub(r"_([^_]+)_", r"\1", line)          # _emphasis_ -> emphasis
        line = re.sub(r"\((?:Applause|Laughter)[^)]*\)", "", line)
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            paras.append(line)
    return "\n".join(paras)


def split_chapters(text, pattern):
    """Cuts a book at lines matching pattern (chapter headings); the heading stays with its chapter."""
    lines = text.replace("\r\n", "\n").split("\n")
    docs, current = [], []
    for line in lines:
        if re.match(pattern, line.strip()) and any(l.strip() for l in current):
            docs.append("\n".join(current))
            current = []
        current.append(line)
    if any(l.strip() for l in current):
        docs.append("\n".join(current))
    return docs


def main(raw, out):
    docs = []
    moby = open(os.path.join(raw, "moby-dick.txt"), encoding="utf-8").read()
    docs += split_chapters(moby, r"^(CHAPTER \d+\.|Epilogue|EPILOGUE)")
    for name in sorted(os.listdir(raw)):
        if name.startswith("austen-"):
            book = open(os.path.join(raw, name), encoding="utf-8").read()
            docs += split_chapters(book, r"^(CHAPTER|Chapter) [0-9IVXLC]+\.?$")
    sotu = os.path.join(raw, "sotu")
    for name in sorted(os.listdir(sotu)):
        if int(name[:4]) >= SOTU_FIRST_YEAR:
            docs.append(open(os.path.join(sotu, name), encoding="utf-8").read())
    cleaned = [p for p in (paragraphs(d) for d in docs) if len(p) > 200]
    train = [d for i, d in enumerate(cleaned) if i % 20 != 19]
    valid = [d for i, d in enumerate(cleaned) if i % 20 == 19]
    os.makedirs(out, exist_ok=True)
    for fname, part in (("pretrain-train.txt", train), ("pretrain-valid.txt", valid)):
        with open(os.path.join(out, fname), "w", encoding="utf-8", newline="\n") as f:
            f.write(("\n" + EOT + "\n").join(part) + "\n")
        print(f"{fname}: {len(part)} documents, {sum(len(d) for d in part)} characters")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
