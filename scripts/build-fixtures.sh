#!/usr/bin/env bash
# build-fixtures.sh OUT: compile every C fixture under testdata/fixtures into
# OUT/<case>, running the gcc commands that each file's header comment gives
# (the same commands the Go tests run, see internal/fixture).
set -euo pipefail
out=${1:?usage: build-fixtures.sh OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out"
mkdir -p "$out"
for src in "$top"/testdata/fixtures/*/; do
	name=$(basename "$src")
	cp -r "$src" "$out/$name"
	(
		cd "$out/$name"
		for c in *.c; do
			# Header comment only: up to the first line closing a comment.
			sed -n '1,/\*\//p' "$c" | sed -n 's/^[ *]*\(gcc -.*\)$/\1/p'
		done | while read -r cmd; do
			echo "  [$name] $cmd"
			eval "$cmd"
		done
	)
done
