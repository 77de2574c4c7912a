#!/usr/bin/env bash
# skipped.sh EVENTS: the closing lines of make test, from go test -json
# events (gotestsum --jsonfile): how many tests were skipped and why, then
# the counts as "tests: N passed, N failed, N skipped".
set -euo pipefail
events=${1:?usage: skipped.sh EVENTS}
[[ -f $events ]] || exit 0
# A test skipped for want of the kernel fixture says "make kernel-fixture"
# in its skip message (internal/fixture.KernelTree).
kernel=$({ grep -o '"Test":"[^"]*","Output":"[^"]*make kernel-fixture' "$events" || true; } | cut -d'"' -f4 | sort -u | wc -l)
all=$(grep '"Action":"skip"' "$events" | grep -c '"Test":' || true)
other=$((all - kernel))
if ((kernel > 0)); then
	echo "skipped: $kernel kernel tests, no kernel fixture (make kernel-fixture builds it, then make test runs them); $other other tests skipped (go test -v says why)"
else
	echo "skipped: no kernel test; $other other tests skipped (go test -v says why)"
fi
count() { grep "\"Action\":\"$1\"" "$events" | grep -c '"Test":' || true; }
echo "tests: $(count pass) passed, $(count fail) failed, $all skipped"
