GO ?= go

.PHONY: build test test-short vet fmt bench dev

build:
	$(GO) build -o bin/chorus ./cmd/chorus

# The whole test suite (what .ci/run calls): vet, then every test with the race detector.
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 20m ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

dev: build
	./bin/chorus dev
