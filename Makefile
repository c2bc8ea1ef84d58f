# ctrace: build, test, benchmark, fuzz.
GO      ?= go
BIN     ?= bin/ctrace
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
FUZZTIME ?= 2000x

.PHONY: all build test test-unit fuzz bench bench-record bench-report vet clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/ctrace

# Kernel tests hold the machine's audit state: packages run one at a time
# (-p 1), and internal/kerneltest serializes them across processes as well.
test: vet
	$(GO) test -p 1 -count=1 ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

# Tests that need no kernel features or root.
test-unit:
	$(GO) test -count=1 ./format/... ./replay/... ./analyze/... ./auditlog/... ./extract/...

vet:
	$(GO) vet ./...

# A bounded run of every fuzz target (set FUZZTIME=60s for a longer one).
fuzz:
	@set -e; for pkg in ./format ./replay ./capture ./auditlog ./analyze ./extract; do \
		for t in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./format/... ./capture/...

# The recorder against the physical limit of kernel audit and against auditd
# (bench/record): root, gcc and auditd needed; takes the kernel test lock,
# restores the audit state it found. About 8 minutes with the defaults.
BENCH_SECS ?= 5
BENCH_RUNS ?= 3
BENCH_FLAGS ?=
bench-record: build
	$(GO) build -o bin/bench-record ./bench/record
	./bin/bench-record -ctrace $(BIN) -src bench -secs $(BENCH_SECS) -runs $(BENCH_RUNS) $(BENCH_FLAGS)

# The HTML report's size and render time in headless Chromium (Debian's chromium) for
# models of 1,000 and 10,000 processes (bench/report).
bench-report:
	$(GO) run ./bench/report

clean:
	rm -rf bin

# The analyzer against laurel and ausearch on the same exec storm (root, auditd, laurel:
# see bench/analyze.sh; SECS, RUNS, WORK and REUSE=1 are passed through).
# The rotating recorder through an exec storm against a plain recording (root, gcc).
.PHONY: bench-rotate
bench-rotate:
	bash bench/rotate.sh

.PHONY: bench-analyze
bench-analyze:
	bash bench/analyze.sh
