# execkit — run `make` for the list of targets.
GO      ?= go
BIN     ?= bin/execkit
PKGS    ?= ./...
BENCH   ?= ExecTrivial|BareSentinel|SentinelRoundTrip|ForkExec|LatencyRatios
FUZZTIME ?= 20s

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: image
image: ## build execkit's container image (execkit:dev) without a registry, and check that it runs
	sh .ci/image execkit:dev

.PHONY: release-check
release-check: ## build the release binaries (linux, darwin × amd64, arm64; windows/amd64), checksums and module list into dist/
	@sh .ci/release dist

.PHONY: build
build: ## build bin/execkit and bin/execkit-core (execkit starts it for all but --version and exec inside record)
	$(GO) build -o $(BIN) ./cmd/execkit
	$(GO) build -o $(dir $(BIN))execkit-core ./cmd/execkit-core

.PHONY: deps
deps: ## install what the tests need (root + apt), or say what is missing
	@sh .ci/install-deps

.PHONY: test
test: deps lint test-race ## install test needs, then vet and run every test with the race detector

.PHONY: test-race
test-race: ## run the tests with the race detector, without installing anything
	GORACE="$${GORACE:-atexit_sleep_ms=10}" $(GO) test -race -count=1 -parallel 4 -timeout 25m $(PKGS)

.PHONY: bench
bench: ## run the benchmarks (figures go in docs/performance.md)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 2000x ./session/
	$(GO) test -run '^$$' -bench 'Flood' -benchtime 3x ./session/
	$(GO) test -run '^$$' -bench 'RedactedOutput' -benchtime 3x ./session/
	$(GO) test -run '^$$' -bench 'FenceBuild|FenceExec$$' -benchtime 3x ./session/
	$(GO) test -run '^$$' -bench 'Start|ExecInRecord' -benchtime 30x ./cmd/execkit-core/
	$(GO) test -run '^$$' -bench 'Capture' -benchtime 3x ./cmd/execkit-core/
	$(GO) test -run '^$$' -bench 'RawBoltPut|Append|Concurrent|CheckpointRecord' -benchtime 1000x ./journal/
	$(GO) test -run '^$$' -bench LiveReaders -benchtime 15x ./journal/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./safety/
	$(GO) test -run '^$$' -bench Checkpoint10k -benchtime 1x ./undo/
	$(GO) test -run '^$$' -bench ReplayOverhead -benchtime 3x ./replay/
	$(GO) test -run '^$$' -bench ConcurrentSessions -benchtime 1x ./mcpserver/

.PHONY: durability
durability: ## kill -9 a journal writer at random instants, 500 times (tier 3)
	$(GO) test -tags integration -run 'TestKill9$$' -count=1 -v ./journal/

.PHONY: integration
integration: durability ## tier 3: 2 GiB floods and sh over SSH and Docker, 200 restore histories, the kill -9 loop
	$(GO) test -tags integration -count=1 -timeout 25m -run 'TestLocalBash|TestSSHBash|TestSSHSh|TestDockerBash|TestDockerSh|TestRestoreProperty' ./session/... ./undo/

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME
	$(GO) test -run '^$$' -fuzz FuzzParseExportList -fuzztime $(FUZZTIME) ./session/
	$(GO) test -run '^$$' -fuzz FuzzMarkerScanner -fuzztime $(FUZZTIME) ./session/
	$(GO) test -run '^$$' -fuzz FuzzRedactor -fuzztime $(FUZZTIME) ./safety/
	$(GO) test -run '^$$' -fuzz FuzzPolicy -fuzztime $(FUZZTIME) ./safety/

.PHONY: lint
lint: ## gofmt and go vet, here and for macOS (amd64, arm64) and Windows
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	GOOS=darwin GOARCH=amd64 $(GO) vet $(PKGS)
	GOOS=darwin GOARCH=arm64 $(GO) vet $(PKGS)
	GOOS=windows GOARCH=amd64 $(GO) vet $(PKGS)

.PHONY: demo
demo: build ## record a scripted agent run (policy, split streams, exit codes), list it, replay it
	@d=$$(mktemp -d) && export PATH="$(CURDIR)/bin:$$PATH" && \
	echo "== execkit record: a script agent calls execkit exec; cd persists, rm is denied" && \
	$(CURDIR)/$(BIN) record --journal $$d/demo.db --cwd $$d --deny rm -- sh fixtures/agents/build.sh && \
	echo && echo "== execkit log" && $(CURDIR)/$(BIN) log $$d/demo.db && \
	echo && echo "== execkit replay: the same commands in a fresh session, compared" && \
	$(CURDIR)/$(BIN) replay $$d/demo.db && \
	echo && echo "journal: $$d/demo.db  (execkit view $$d/demo.db to browse it; execkit shell for an interactive session)"

.PHONY: ci
ci: ## what CI runs (.ci/run)
	bash .ci/run
