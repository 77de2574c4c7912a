#!/usr/bin/env bash
# demo.sh BIN OUT: compile four of the bundled C examples into OUT with
# gcc -O2 -g -fdump-ipa-clones, ask klp-audit (BIN) which functions a
# livepatch must replace for a fix to each, and check two livepatches
# against a fix: one complete, one that misses a function. Each answer is
# shown as its list of targets, every one with the rule that requires it
# and why, said from the target's side; the command above it prints the
# whole answer (where the code went, what is not a target and why).
set -uo pipefail
bin=${1:?usage: demo.sh BIN OUTDIR}
out=${2:?usage: demo.sh BIN OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)

echo "== compiling with gcc $(gcc -dumpfullversion 2>/dev/null || echo '?') -O2 -g -fdump-ipa-clones into $out"
"$top/scripts/build-fixtures.sh" -q "$out" clones header rule-notpatchable klp-check || exit 1

# run WHY ARGS...: the command, then the lines of its answer that say what
# to replace and why (and, for check, the verdict); a failing exit status
# is said after the command.
run() {
	local why=$1 answer rc
	shift
	answer=$("$bin" "$@" 2>&1)
	rc=$?
	[ "$rc" -eq 0 ] || why="$why (exit status $rc)"
	echo "\$ klp-audit $*    # $why"
	awk '
		/^INCOMPLETE/ || /^The livepatch must replace/ || /^missing \(/ { keep = 1 }
		/^verdict:/ { print; pass = /PASS/ }
		pass && /^predicted, dropped by the rebuild/ { dropped = 1; next }
		dropped && /^$/ { dropped = 0 }
		dropped { sub(/^ +/, ""); print "  rebuilt, not needed: " $0 }
		keep && /^$/ { keep = 0 }
		keep { print }' <<<"$answer"
}

echo
run "ipa-split: a .part clone, the head inlined" impacted --build "$out/clones" --func splitme
echo
run "constprop, then isra: a new ABI" impacted --build "$out/clones" --func leafy
echo
run "a header inline, in two units" impacted --build "$out/header" --func ref_put
echo
run "notrace: no ftrace entry" impacted --build "$out/rule-notpatchable" --tu ftrace.o --func nt
# kbuild records how it compiled each object (.NAME.o.cmd): with it,
# check rebuilds the unit, original and fixed, and sees what changed.
printf 'cmd_check.o := gcc -O2 -g -fdump-ipa-clones -c -o check.o check.c\n\nsource_check.o := check.c\n' >"$out/klp-check/.check.o.cmd"
echo
run "the fix changes clamp_len" check --diff "$out/klp-check/fix.patch" --build "$out/klp-check" --livepatch "$out/klp-check/complete.c"
run "a livepatch that misses one" check --diff "$out/klp-check/fix.patch" --build "$out/klp-check" --livepatch "$out/klp-check/incomplete.c"
