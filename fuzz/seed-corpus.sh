#!/usr/bin/env bash
# Rewrites the seed corpora fuzz/corpus/<target>/ from real client traffic: the testkit test
# `fuzz_corpus` drives instant-acme (EAB, three orders over http-01, dns-01 and tls-alpn-01,
# finalize, contact update, key change, revocation, deactivation) and the testkit's signer
# (every account-key algorithm) against the in-process CA, checks that every recorded request,
# CSR and certificate parses, and writes them, with the validation answers and fixtures the
# VA targets start from, one file per input named by its SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf fuzz/corpus
FERRITE_FUZZ_CORPUS="$PWD/fuzz/corpus" cargo nextest run -p ferrite-testkit --test fuzz_corpus
for dir in fuzz/corpus/*; do
  printf '%-20s %3d files\n' "${dir#fuzz/corpus/}" "$(find "$dir" -type f | wc -l)"
done
du -sh fuzz/corpus
