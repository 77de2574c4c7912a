#!/usr/bin/env bash
# regen.sh: regenerate the golden ipa-clones dumps under gcc-VERSION/.
#
# For every case directory testdata/fixtures/<case>/, the gcc commands are
# taken from the header comments of its .c files (the lines that read
# " *   gcc ..."), run in order in a fresh temporary copy of that directory,
# and every *.ipa-clones file they produce (empty ones included) is copied
# with gcc's own file name into testdata/dumps/gcc-VERSION/<case>/, after
# that directory has been emptied. Objects and programs are not kept.
#
# The goldens are tied to the compiler: the script refuses to run unless
# "gcc -dumpfullversion" prints the version the directory is named after
# (12.2.0 today). After regenerating, refresh the parsed goldens with
#
#   go test ./ipadump -run TestGolden -update
#
# and review both diffs in the commit like code.
#
# Usage: testdata/dumps/regen.sh        (from anywhere)
set -euo pipefail

want=12.2.0
have=$(gcc -dumpfullversion)
if [[ $have != "$want" ]]; then
	echo "regen.sh: gcc $have found, the goldens are for gcc $want" >&2
	exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
fixtures=$here/../fixtures
out=$here/gcc-${want%.*}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for dir in "$fixtures"/*/; do
	case=$(basename "$dir")
	work=$tmp/$case
	cp -R "$dir" "$work"
	cmds=$(sed -n 's/^ \*   \(gcc .*\)$/\1/p' "$dir"/*.c)
	if [[ -z $cmds ]]; then
		echo "regen.sh: $case: no gcc commands in the header comments" >&2
		exit 1
	fi
	while IFS= read -r cmd; do
		echo "$case: $cmd"
		(cd "$work" && eval "$cmd")
	done <<<"$cmds"
	rm -rf "$out/$case"
	mkdir -p "$out/$case"
	n=0
	while IFS= read -r -d '' f; do
		cp "$f" "$out/$case/"
		n=$((n + 1))
	done < <(find "$work" -maxdepth 1 -name '*.ipa-clones' -print0)
	if [[ $n -eq 0 ]]; then
		echo "regen.sh: $case: gcc wrote no dump" >&2
		exit 1
	fi
done
