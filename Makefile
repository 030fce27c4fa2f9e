# xtmsyncd. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
GO ?= go
PKGS := ./...
TESTDIRS := scripts/testdirs.sh

.PHONY: all build demo test test-unit lint windows testdirs-up testdirs-down testdirs-reset bench clean

all: build

build:
	$(GO) build -trimpath -o bin/xtmsyncd ./cmd/xtmsyncd

## demo: install Samba if needed, bring up the two demo forests, reset them, plan, sync, plan again.
demo: build
	bash scripts/demo.sh

## test: gofmt, go vet, unit + integration tests with -race against both directories, Windows build.
test: lint testdirs-up
	. .testdirs/env && XTM_REQUIRE_DIRS=1 bash scripts/gotest.sh $(PKGS)
	$(MAKE) windows

test-unit: lint
	$(GO) test -race -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

windows:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/xtmsyncd

testdirs-up:
	bash $(TESTDIRS) up

testdirs-down:
	bash $(TESTDIRS) down

testdirs-reset:
	bash $(TESTDIRS) reset

# In-process benchmarks first, each 100k one in its own process (peak RSS is per process), then
# the real binary against the OpenLDAP tools on the Samba forests.
bench: testdirs-up
	$(GO) test -run '^$$' -bench . -benchmem ./batch/
	for b in MapDiff5k MapDiff5kFirst RenderLDIF5kFirst MapDiff100kSteady MapDiff100kFirst; do \
		$(GO) test -run '^$$' -bench "^Benchmark$$b$$" -benchtime 1x -timeout 30m ./bench/ | grep Benchmark || exit 1; done
	. .testdirs/env && $(GO) run ./bench/samba -n 5000 -reps 9 -apply-reps 6

clean:
	rm -rf bin out
