# xtmsyncd. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
GO ?= go
PKGS := ./...
TESTDIRS := scripts/testdirs.sh
# The version every build stamps into `xtmsyncd version` (cmd/xtmsyncd/version.go).
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DIST := dist

.PHONY: all build demo test test-unit lint shellcheck windows package testdirs-up testdirs-down testdirs-reset bench clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/xtmsyncd ./cmd/xtmsyncd

## demo: install Samba if needed, bring up the two demo forests, reset them, plan, sync, plan again.
demo: build
	bash scripts/demo.sh

## test: gofmt, go vet, shellcheck, unit + integration tests with -race against both directories
## (testdirs.sh's install branch included, with a stand-in apt-get), Windows build.
test: lint shellcheck testdirs-up
	. .testdirs/env && XTM_REQUIRE_DIRS=1 bash scripts/gotest.sh $(PKGS)
	$(MAKE) windows

test-unit: lint
	$(GO) test -race -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

SHELL_SCRIPTS := scripts/*.sh packaging/scripts/*.sh .ci/run
shellcheck:
	@command -v shellcheck >/dev/null || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: apt-get install shellcheck"; exit 1; }
	shellcheck $(SHELL_SCRIPTS)
	@echo "shellcheck: $$(ls $(SHELL_SCRIPTS) | wc -l) scripts clean"

windows:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/xtmsyncd

## package: the .deb, the .rpm and the Windows zip in dist/ (packaging/: nfpm, its own Go module).
package:
	rm -rf $(DIST) && mkdir -p $(DIST)/bin
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' \
		-o $(DIST)/bin/linux-amd64/xtmsyncd ./cmd/xtmsyncd
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' \
		-o $(DIST)/bin/windows-amd64/xtmsyncd.exe ./cmd/xtmsyncd
	cd packaging && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd packaging && $(GO) run . -version '$(VERSION)' -commits "$$(git rev-list --count HEAD 2>/dev/null || echo 0)" \
		-mtime "$$(git log -1 --format=%ct 2>/dev/null || echo 0)" -root .. -out ../$(DIST)

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
	rm -rf bin out $(DIST)
