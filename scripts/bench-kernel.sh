#!/usr/bin/env bash
# bench-kernel.sh BIN TREE: wall time and peak memory of
# "klp-audit impacted --func percpu_ref_put_many" over the dumps of TREE
# (the kernel fixture: kernel/ and mm/), with the rules, with --no-rules
# and with --dumps-only, each run a fresh process (no state survives a
# run). With DROP_CACHES=1 (root) the page cache is dropped before each
# run.
set -euo pipefail
bin=${1:?usage: bench-kernel.sh BIN TREE}
tree=${2:?usage: bench-kernel.sh BIN TREE}
runs=${RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "dumps: $(find "$tree" -name '*.ipa-clones' | wc -l), $(find "$tree" -name '*.ipa-clones' -print0 | du -ch --files0-from=- | tail -1 | cut -f1)"
# The cores may be shared: the CPU time of each run is printed beside its
# wall time, and the load average here and at the end.
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# timed LABEL ARGS...: one run of klp-audit ARGS (its output discarded),
# timed by /usr/bin/time into a file of its own.
timed() {
	local label=$1
	shift
	/usr/bin/time -o "$work/time" -f "$label: %e s wall, %U+%S s CPU, %M KiB peak RSS" "$bin" "$@" >/dev/null 2>&1 || true
	grep -v '^Command exited' "$work/time"
}
for mode in "" --no-rules --dumps-only; do
	echo "impacted --func percpu_ref_put_many${mode:+ $mode}:"
	for i in $(seq "$runs"); do
		if [[ ${DROP_CACHES:-0} == 1 ]]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
		timed "run $i" impacted --build "$tree" --func percpu_ref_put_many --format json $mode
	done
done

# check of a fix touching four functions of mm/oom_kill.c (each body gets
# one statement), against a funcs list: the build is read once for all.
mkdir -p "$work/a/mm" "$work/b/mm"
cp "$tree/mm/oom_kill.c" "$work/a/mm/"
python3 - "$work" <<'PY'
import re, sys
w = sys.argv[1]
s = open(w + "/a/mm/oom_kill.c").read()
for fn in ["oom_unkillable_task", "process_shares_mm", "__task_will_free_mem", "queue_oom_reaper"]:
    m = re.search(r"(?m)^(static )?[a-z ]*\b" + fn + r"\([^;{]*\)\s*\n\{\n", s)
    s = s[:m.end()] + "\t{ static volatile int klp_audit_sink; klp_audit_sink++; }\n" + s[m.end():]
open(w + "/b/mm/oom_kill.c", "w").write(s)
PY
(cd "$work" && diff -u a/mm/oom_kill.c b/mm/oom_kill.c >fix.patch) || true
printf -- '- object: vmlinux\n  old_name: oom_unkillable_task\n' >"$work/funcs.yaml"
echo "check of a fix touching 4 functions of mm/oom_kill.c:"
for i in $(seq "$runs"); do
	timed "run $i" check --diff "$work/fix.patch" --build "$tree" --funcs "$work/funcs.yaml" --format json
done

# The persistent index (klp-audit index), kept in the work directory
# (never in the tree, never in the user's cache): built from nothing,
# then again with nothing changed (the incremental path: every file
# stat'ed, none read); then the same questions with it. The first
# indexed query checks its units' dumps against their objects' DWARF and
# keeps the checks beside the index: it is run once before the timed
# runs, as any later query finds them kept.
idx="$work/build.idx"
echo "index (from nothing, then again with nothing changed):"
timed "build" index --build "$tree" --index "$idx"
timed "again" index --build "$tree" --index "$idx"
"$bin" impacted --build "$tree" --index "$idx" --func percpu_ref_put_many --format json >/dev/null 2>&1 || true
for mode in "" --dumps-only; do
	echo "impacted --func percpu_ref_put_many${mode:+ $mode}, with the index:"
	for i in $(seq "$runs"); do
		timed "run $i" impacted --build "$tree" --index "$idx" --func percpu_ref_put_many --format json $mode
	done
done
"$bin" check --no-rebuild --diff "$work/fix.patch" --build "$tree" --index "$idx" --funcs "$work/funcs.yaml" --format json >/dev/null 2>&1 || true
for ix in off "$idx"; do
	echo "check --no-rebuild (the prediction) of the 4-function fix, --index ${ix/#$work\//}:"
	for i in $(seq "$runs"); do
		timed "run $i" check --no-rebuild --diff "$work/fix.patch" --build "$tree" --index "$ix" --funcs "$work/funcs.yaml" --format json
	done
done
for ix in off "$idx"; do
	echo "impacted --all-functions (every function of every unit, JSON Lines), --index ${ix/#$work\//}:"
	for i in $(seq "$runs"); do
		timed "run $i" impacted --build "$tree" --index "$ix" --all-functions
	done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
