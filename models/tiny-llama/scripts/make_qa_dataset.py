"""Builds the tiny-llama fine-tuning task: passage question answering in Alpaca JSONL form.

Each record gives a short passage of three facts about three people (where they live, what colour their
belongings are, how old they are, what work they do) and asks about one of them; the answer is one word copied
from the passage, so exact match is a fair metric. A pretrained base model continues the text instead of answering;
a fine-tuned one must learn the format and to find the right person. The held-out split uses new passages
(no passage-question pair repeats across splits). Deterministic: the same seed gives the same files.
Usage: make_qa_dataset.py OUT_DIR [--train 2000] [--valid 200] [--seed 7]
"""
import argparse
import json
import os
import random

NAMES = ["Elinor", "Marianne", "Edward", "Elizabeth", "Jane", "Darcy", "Bingley", "Lydia", "Emma", "Harriet",
         "Knightley", "Anne", "Wentworth", "Fanny", "Edmund", "Catherine", "Henry", "Ishmael", "Queequeg", "Ahab",
         "Starbuck", "Stubb", "Flask", "Pip", "Peleg", "Bildad", "Charity", "Mary", "Kitty", "Frank"]
CITIES = ["Bath", "London", "Boston", "Nantucket", "Bristol", "York", "Dover", "Paris", "Lisbon", "Salem",
          "Brighton", "Oxford", "Derby", "Portsmouth", "Plymouth", "Liverpool"]
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "grey", "brown"]
THINGS = ["hat", "boat", "coat", "horse", "book", "cup", "chair", "lamp"]
JOBS = ["sailor", "teacher", "farmer", "baker", "doctor", "captain", "clerk", "painter", "tailor", "cook"]


def fact(rng, name):
    """One sentence about name, the question it answers and the answer."""
    kind = rng.randrange(4)
    if kind == 0:
        city = rng.choice(CITIES)
        return f"{name} lives in {city}.", f"Where does {name} live?", city
    if kind == 1:
        colour, thing = rng.choice(COLOURS), rng.choice(THINGS)
        return f"{name} has a {colour} {thing}.", f"What colour is the {thing} of {name}?", colour
    if kind == 2:
        age = str(rng.randint(18, 80))
        return f"{name} is {age} years old.", f"How old is {name}?", age
    job = rng.choice(JOBS)
    return f"{name} works as a {job}.", f"What is the job of {name}?", job


def record(rng):
    names = rng.sample(NAMES, 3)
    facts = [fact(rng, n) for n in names]
    sentence, question, answer = facts[rng.randrange(3)]
    return {"instruction": question, "input": " ".join(f[0] for f in facts), "output": answer}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--valid", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seen, splits = set(), {"qa-train.jsonl": [], "qa-valid.jsonl": []}
    for fname, count in (("qa-train.jsonl", args.train), ("qa-valid.jsonl", args.valid)):
        while len(splits[fname]) < count:
            r = record(rng)
            key = (r["instruction"], r["input"])
            if key in seen:
                continue
            seen.add(key)
            splits[fname].append(r)
    os.makedirs(args.out, exist_ok=True)
    for fname, rows in splits.items():
        with open(os.path.join(args.out, fname), "w", encoding="utf-8", newline="\n") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"{fname}: {len(rows)} records")


if __name__ == "__main__":
    main()
