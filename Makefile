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

# The deterministic simulator (internal/sim, docs/simulation.md). sim: 200 seeds of
# mixed cluster sizes and fault sets, each run twice (the same report required), the
# checkers' own tests, and every deliberately broken variant caught. sim-long: 5000
# seeds. SIM_FIRST=n starts at another seed.
SIM_FIRST ?= 1
.PHONY: sim sim-long

sim:
	@out=$$($(GO) test -count=1 -run 'TestSim' ./internal/sim -sim.seeds=200 -sim.first=$(SIM_FIRST) -v 2>&1); status=$$?; \
	echo "$$out" | grep -Ev '^ *(=== (RUN|PAUSE|CONT|NAME)|--- PASS)'; exit $$status

sim-long:
	@out=$$($(GO) test -count=1 -timeout 90m -run 'TestSimSeeds' ./internal/sim -sim.seeds=5000 -sim.first=$(SIM_FIRST) -v 2>&1); status=$$?; \
	echo "$$out" | grep -Ev '^ *(=== (RUN|PAUSE|CONT|NAME)|--- PASS)'; exit $$status

# Every fuzz target (found by grepping the test files) for FUZZTIME each, starting from
# its committed seed corpus in testdata/fuzz/. A failing input is written to
# testdata/fuzz/<Target>/ and fails the run; `go test -run '^<Target>$' ./<pkg>` then
# replays it. FUZZTIME=1m for a longer session.
FUZZTIME ?= 5s

.PHONY: fuzz

fuzz:
	@targets=$$(grep -rHo --include='*_test.go' --exclude-dir=.git --exclude-dir=tmp '^func Fuzz[A-Za-z0-9_]*' . \
		| sed -E 's|^(\./(.*/)?)[^/]+_test\.go:func |\1 |' | sort -u); \
	test -n "$$targets" || { echo "no fuzz targets found"; exit 1; }; \
	echo "$$targets" | while read -r pkg name; do \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# The real-process fault suite (test/chaos, root only): 3 minutes in `make test`;
# chaos-long runs 30. CHAOS_SEED replays a run's nemesis and workload choices.
.PHONY: chaos-long
chaos-long:
	CHAOS_DURATION=30m $(GO) test -count=1 -timeout 40m -v -run TestChaos ./test/chaos

# Every Go benchmark once briefly, so that they keep compiling and running (CI); no
# timing is asserted. `make bench` runs them properly.
.PHONY: bench-smoke
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=100x ./internal/...
