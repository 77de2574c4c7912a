# klp-audit — see README.md.
GO      ?= go
BIN     := bin/klp-audit
DEMO    := demo-build
KLP_AUDIT_CACHE ?= $(HOME)/.cache/klp-audit
export KLP_AUDIT_CACHE

.PHONY: all build demo test check lint fuzz bench bench-kernel kernel-fixture clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/klp-audit

## demo: compile four of the bundled C examples with gcc -O2 -g
## -fdump-ipa-clones (one line each), ask klp-audit which functions a
## livepatch must replace for a fix to each, and check a complete and an
## incomplete livepatch (under 40 lines; scripts/demo.sh says how).
demo:
	@$(GO) build -buildvcs=auto -o $(BIN) ./cmd/klp-audit
	@scripts/demo.sh $(BIN) $(DEMO)

## test: every test, with the race detector. Kernel integration tests run
## when "make kernel-fixture" has built the kernel cache, and skip otherwise;
## the last line says how many were skipped. A package may take longer
## than go test's default 10 minutes under -race on 2 loaded cores: 45.
test:
	@status=0; $(GO) tool gotestsum --format pkgname-and-test-fails --hide-summary=skipped --jsonfile .test-events.json -- -race -count=1 -timeout 45m ./... || status=$$?; \
	scripts/skipped.sh .test-events.json; rm -f .test-events.json; exit $$status

## check: what CI checks besides the tests.
check: lint test

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## fuzz: every fuzz target of the repository, each for FUZZTIME (go test
## -fuzz takes one target per package per run, hence the loop). The seed
## corpora are under each package's testdata/fuzz/; inputs that fail are
## written there too and belong in the commit that fixes them.
FUZZTIME ?= 60s
fuzz:
	@set -e; for dir in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go') | xargs -n1 dirname | sort -u); do \
		for t in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/' | sort); do \
			echo "== ./$$dir $$t ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) ./$$dir; \
		done; \
	done

## bench: parser and graph benchmarks (kernel ones need make kernel-fixture).
bench:
	$(GO) test -run=XXX -bench=. -benchmem ./...

## bench-kernel: wall time and peak memory of the impacted query over the
## dumps of kernel/ and mm/, cold (a fresh process each run), then with
## the index (klp-audit index). BENCH_TREE=$(KLP_AUDIT_CACHE)/linux-6.1-full
## measures the 8-directory tree (make kernel-fixture DIRS=...).
BENCH_TREE ?= $(KLP_AUDIT_CACHE)/linux-6.1
bench-kernel: build kernel-fixture
	scripts/bench-kernel.sh $(BIN) $(BENCH_TREE)

## kernel-fixture: Debian's linux-source-6.1, kernel/ and mm/ built with
## -fdump-ipa-clones into $(KLP_AUDIT_CACHE) (outside the repository).
## DIRS="lib block fs net security arch/x86" builds those too, on request,
## into $(KLP_AUDIT_CACHE)/linux-6.1-full (the tests' tree is unchanged).
kernel-fixture:
	DIRS="$(DIRS)" scripts/kernel-fixture.sh

clean:
	rm -rf bin $(DEMO)
