# routecast build. `make demo` and `make test` are all a fresh clone needs.

GO      ?= go
BIN     := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

# Code-generation and lint tools, pinned in tools/go.mod so that their
# dependencies stay out of the main module.
TOOL_PKGS := github.com/bufbuild/buf/cmd/buf \
             google.golang.org/protobuf/cmd/protoc-gen-go \
             google.golang.org/grpc/cmd/protoc-gen-go-grpc \
             honnef.co/go/tools/cmd/staticcheck
TOOLS := $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/staticcheck

BINARIES := ./server/cmd/routecastd ./server/cmd/routecast ./agent/cmd/routecast-agent \
            ./server/cmd/routecast-bench

# The standard benchmark run; override for the large runs, e.g.
# make bench BENCH_FLAGS="-agents 10000 -routes 1000".
BENCH_FLAGS ?= -agents 1000 -routes 1000

# Fuzz targets, run briefly in CI: package and target name.
FUZZ_TARGETS := ./pkg/routes:FuzzDecodeRoute ./pkg/routes:FuzzScanHints ./pkg/importer:FuzzParse ./server:FuzzStreamRequests ./server:FuzzUnmarshalApply
FUZZTIME ?= 10s

.PHONY: all build tools generate check-generated lint test fuzz demo bench clean

all: build

build:
	$(GO) build -o $(BIN)/ $(BINARIES)

tools: $(TOOLS)

$(TOOLS) &: tools/go.mod tools/go.sum
	$(GO) build -modfile=tools/go.mod -o $(BIN)/ $(TOOL_PKGS)

generate: tools
	buf generate

# Fails when gen/ differs from what the committed protos generate.
check-generated: generate
	@git diff --exit-code --stat -- gen || \
	  { echo "gen/ is stale: run 'make generate' and commit the result"; exit 1; }
	@test -z "$$(git status --porcelain -- gen)" || \
	  { git status --porcelain -- gen; echo "gen/ has untracked files: run 'make generate' and commit"; exit 1; }

lint: tools
	buf lint
	$(GO) vet ./...
	staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "not gofmt-formatted"; exit 1; }

test:
	$(GO) test -race -count=1 -timeout 15m ./...

# Each fuzz target for FUZZTIME, on top of its committed seed corpus in
# testdata/fuzz.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
	  $(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s $$pkg || exit 1; \
	done

demo: build
	bash examples/demo.sh

# Go benchmarks of the hot paths, then the load generator against a real
# routecastd and a bare gRPC floor; its last line is one JSON object.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 20x -benchmem ./server/ ./pkg/store/ ./pkg/routes/
	$(BIN)/routecast-bench $(BENCH_FLAGS)

clean:
	rm -rf $(BIN)
