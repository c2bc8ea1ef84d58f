# ctrace: build, test, benchmark, fuzz.
GO      ?= go
BIN     ?= bin/ctrace
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
FUZZTIME ?= 2000x

.PHONY: all build test test-unit fuzz bench vet clean

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
	$(GO) test -count=1 ./format/... ./replay/... ./analyze/... ./auditlog/...

vet:
	$(GO) vet ./...

# A bounded run of every fuzz target (set FUZZTIME=60s for a longer one).
fuzz:
	@set -e; for pkg in ./format ./replay ./capture ./auditlog ./analyze; do \
		for t in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./format/... ./capture/...

clean:
	rm -rf bin
