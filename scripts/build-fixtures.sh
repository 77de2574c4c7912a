#!/usr/bin/env bash
# build-fixtures.sh [-q] OUT [FIXTURE...]: compile the C fixtures under
# testdata/fixtures (every one, or those named) into OUT/<case>, running
# the gcc commands that each file's header comment gives (the same
# commands the Go tests run, see internal/fixture). Each command is printed
# as it runs; with -q, one line per fixture names the objects it built (a
# failing command is printed with gcc's messages either way).
set -euo pipefail
quiet=
if [ "${1:-}" = -q ]; then
	quiet=1
	shift
fi
out=${1:?usage: build-fixtures.sh [-q] OUTDIR [FIXTURE...]}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- $(cd "$top/testdata/fixtures" && ls -d */ | tr -d /)
fi
rm -rf "$out"
mkdir -p "$out"
for name in "$@"; do
	src=$top/testdata/fixtures/$name
	[ -d "$src" ] || { echo "build-fixtures.sh: no fixture $name under testdata/fixtures" >&2; exit 2; }
	cp -r "$src" "$out/$name"
	(
		cd "$out/$name"
		built=()
		while read -r cmd; do
			[ -n "$quiet" ] || echo "  [$name] $cmd"
			if ! eval "$cmd"; then
				echo "  [$name] FAILED: $cmd" >&2
				exit 1
			fi
			built+=("$(sed -n 's/.* -o \([^ ]*\).*/\1/p' <<<"$cmd")")
		done < <(for c in *.c; do
			# Header comment only: up to the first line closing a comment.
			sed -n '1,/\*\//p' "$c" | sed -n 's/^[ *]*\(gcc -.*\)$/\1/p'
		done)
		[ -z "$quiet" ] || echo "  [$name] built ${built[*]}"
	)
done
