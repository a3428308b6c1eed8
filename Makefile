GO ?= go

.PHONY: build test test-short vet fmt bench dev

build:
	$(GO) build -o bin/chorus ./cmd/chorus

# The whole test suite (what .ci/run calls): vet, every test with the race detector,
# then the end-to-end cluster tests again on PostgreSQL storage when a server is given
# (CHORUS_TEST_POSTGRES_DSN; .ci/run starts one with scripts/ci-postgres.sh).
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 20m ./...
	@if [ -n "$$CHORUS_TEST_POSTGRES_DSN" ]; then \
		echo "end-to-end cluster tests on PostgreSQL storage"; \
		CHORUS_E2E_STORAGE=postgres $(GO) test -count=1 -timeout 20m -run '$(E2E_PG_TESTS)' ./test/e2e; \
	elif [ -n "$$CI" ]; then echo "CI without CHORUS_TEST_POSTGRES_DSN"; exit 1; \
	else echo "skipping the PostgreSQL e2e run: CHORUS_TEST_POSTGRES_DSN is not set"; fi

# The e2e tests that also run with every node on PostgreSQL (the wiped-disk test is
# pebble-only: it deletes a data directory).
E2E_PG_TESTS = ReadWriteAcrossNodes|KillOneOfThree|DataSurvivesFullRestart|BadInput|Expiry|HintsDrain|ReadRepairFixes|NoResurrection

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

dev: build
	./bin/chorus dev
