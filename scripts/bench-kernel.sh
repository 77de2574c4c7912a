#!/usr/bin/env bash
# bench-kernel.sh BIN TREE: wall time and peak memory of
# "klp-audit impacted --func percpu_ref_put_many" over the dumps of kernel/
# and mm/ of TREE, each run a fresh process (no state survives a run).
# With DROP_CACHES=1 (root) the page cache is dropped before each run.
set -euo pipefail
bin=${1:?usage: bench-kernel.sh BIN TREE}
tree=${2:?usage: bench-kernel.sh BIN TREE}
runs=${RUNS:-5}
echo "dumps: $(find "$tree/kernel" "$tree/mm" -name '*.ipa-clones' | wc -l), $(du -ch $(find "$tree/kernel" "$tree/mm" -name '*.ipa-clones') | tail -1 | cut -f1)"
for i in $(seq "$runs"); do
	if [[ ${DROP_CACHES:-0} == 1 ]]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
	/usr/bin/time -f "run $i: %e s wall, %M KiB peak RSS" \
		"$bin" impacted --build "$tree" --func percpu_ref_put_many --format json >/dev/null
done
