# The two commands the README leads with: `make synth` and `make test`. Each installs what a
# fresh machine lacks (the pinned CDK CLI and Node.js from npm, Go modules from the proxy).
# GNU make 3.81 (macOS's) ignores .SHELLFLAGS: every recipe would run without -e and pipefail.
ifneq ($(filter 3.%,$(MAKE_VERSION)),)
  ifeq ($(filter-out 3.80 3.81,$(MAKE_VERSION)),)
    $(error GNU make $(MAKE_VERSION) is too old: this Makefile needs 3.82 or later (on macOS: brew install make, then run gmake))
  endif
endif
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# jsii and the CDK CLI run on the Node.js pinned in package.json, never on the machine's own
# (Node 20 is past its end of life and makes jsii print a banner on every run).
NODE_BIN := $(CURDIR)/node_modules/node/bin
export PATH := $(NODE_BIN):$(PATH)
export JSII_NODE := $(NODE_BIN)/node
CDK := $(CURDIR)/node_modules/.bin/cdk
TOOLS := node_modules/.installed

# One build configuration for every go command here (vet, tests, the app cdk synth runs, the
# Lambda handler it builds for linux/amd64 with -trimpath and no cgo): the AWS SDK and the CDK
# bindings are then compiled once and shared, where mixed flags would compile them twice on a
# cold machine. Nothing in the module uses cgo.
export CGO_ENABLED := 0
export GOFLAGS := -trimpath $(GOFLAGS)

# A failed synthesis ends with two lines after the app's own message, go run's "exit status 1" and
# the CDK CLI's "go run .: Subprocess exited with error 1": they bury the message, so make drops
# them (the exit status stays).
# Used as `{ CMD 2>&1 1>&3 | $(quiet_failure) >&2; } 3>&1`: stderr through the filter, stdout as it
# is, CMD's status kept by pipefail (grep finding nothing to print is not a failure).
quiet_failure := { grep -v -E '^(exit status [0-9]+|go run \.: Subprocess exited with error [0-9]+)$$' || true; }

# A cold build is minutes of silence: say so before it starts.
define announce_cold_build
	@if [ "$$(go list -f '{{.Stale}}' github.com/aws/aws-cdk-go/awscdk/v2 2>/dev/null)" != false ]; then \
	  echo "Compiling the CDK app. The first build compiles the AWS CDK Go bindings and the AWS SDK: 2 to 3 minutes on 2 cores, with no output meanwhile; later builds take seconds." >&2; fi
endef

.PHONY: help synth test tools test-go shellcheck bench update-snapshots fuzz rehearse clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund
	@# node_modules ships Go template files that would break `go ./...`: a go.mod of its own
	@# makes the Go tool treat the folder as another module and skip it.
	echo 'module nodemodules_excluded' > node_modules/go.mod
	touch $@

synth: $(TOOLS) ## Synthesize every environment into cdk.out/ (or one: make synth ENV=dev).
	@# Every environment: a fresh cdk.out, so the listing below shows only what this synthesis
	@# wrote. One environment: the others' templates stay where they are.
	$(if $(ENV),,rm -rf cdk.out)
	$(announce_cold_build)
	@echo "cdk synth --quiet$(if $(ENV), -c env=$(ENV))"
	@{ $(CDK) synth --quiet $(if $(ENV),-c env=$(ENV)) 2>&1 1>&3 | $(quiet_failure) >&2; } 3>&1
	@ls cdk.out/*.template.json

test: $(TOOLS) tools test-go shellcheck ## Run the whole test suite.

# What the tests need besides Go and the pinned Node.js; checked before they start, so a missing
# tool is one line with the install command, not a test failure.
tools:
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: apt-get install -y shellcheck (Debian, Ubuntu), dnf install ShellCheck, brew install shellcheck" >&2; exit 1; }
	@command -v haproxy >/dev/null || { echo "haproxy is missing: apt-get install -y haproxy (Debian, Ubuntu), dnf install haproxy, brew install haproxy" >&2; exit 1; }
	@command -v curl >/dev/null || { echo "curl is missing: apt-get install -y curl (Debian, Ubuntu), dnf install curl, brew install curl" >&2; exit 1; }

# go test, with -count=1: the hook and CLI tests run scripts through bash, which go test's result
# cache cannot see, so every test runs every time. The CDK tests (test/) are the slow package:
# listed first, they start first, and the rest runs beside them. -parallel=8: many tests mostly
# wait (on a subprocess, a load run, a hook script's timeout); at the default of one test per
# core, on a small machine they would wait in line. -vet=off: go vet ./... has just run with all
# its analyzers. PKG and RUN narrow it to a package or a test (verbose), with the pinned Node.js
# and these build settings, so nothing is compiled again.
GO_TEST := go test -count=1 -vet=off -parallel=8 $(or $(PKG),./test/... ./...)$(if $(RUN), -run '$(RUN)' -v)

test-go: $(TOOLS) ## Run the Go tests only (or some: make test-go PKG=./test RUN=TestNag).
	$(announce_cold_build)
	go vet ./...
	$(GO_TEST)

shellcheck: tools ## Lint every shell script of the project (any file with a sh or bash shebang).
	@# The tracked files when this folder is a git checkout's root; every file otherwise (a source
	@# archive, the pipeline's source zip, a copy inside some other repository).
	@# Each first line is read by bash itself: a head and a grep for each of some 180 files took
	@# longer than linting the scripts.
	@# bash 3.2 (macOS's) has no mapfile: the NUL-separated list is read in a loop.
	@if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then list() { git ls-files -z; }; \
	 else list() { find . -type f -not -path './node_modules/*' -not -path './cdk.out/*' -not -path './.git/*' -print0; }; fi; \
	 shebang='^#!.*[/ ](ba)?sh$$' files=(); \
	 while IFS= read -r -d '' f; do \
	   first=; [ -f "$$f" ] && { IFS= read -r first <"$$f" || true; } 2>/dev/null; \
	   if [[ $$first =~ $$shebang ]]; then files+=("$$f"); fi; \
	 done < <(list); \
	 [ "$${#files[@]}" -gt 0 ] || { echo "shellcheck: no shell scripts found" >&2; exit 1; }; \
	 echo "shellcheck" "$${files[@]}"; shellcheck "$${files[@]}"

update-snapshots: $(TOOLS) ## Rewrite test/testdata/*.template.json; review with git diff.
	go test ./test -run TestSnapshot -update

fuzz: ## Fuzz the config decoder for a minute.
	go test ./config -run '^$$' -fuzz FuzzParse -fuzztime 60s

# Refused before anything is installed or built.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
  ifneq ($(PKG)$(RUN),)
    $(error make bench measures the whole suite: run it without PKG and RUN)
  endif
endif
bench: $(TOOLS) ## Measure the suite against a one-assertion CDK test, and cdk synth (make bench ARGS="--runs 3").
	GO_TEST="$(GO_TEST)" scripts/dev/bench.sh $(ARGS)

# The rehearsal needs root (namespaces, mounts, interfaces); building it does not. As root (CI)
# everything runs as is; otherwise only the two built binaries run under sudo, so the checkout,
# the Go caches and node_modules stay the user's. First the machine is checked (one clear
# message when it cannot rehearse), then the sandbox tests (a revision's verdicts, and nothing is
# left after a run, a failure, Ctrl-C or a kill), then the scenarios: the candidate REVISION over
# the baseline BASELINE, on the fleet each template describes.
#   make rehearse          the shipped environments, as the fixture's copies keep their templates
#                          (test/testdata/Fixture-*.template.json, rewritten by make update-snapshots):
#                          what CI rehearses, whatever cdk.json holds, side by side. prod plays
#                          every scenario, dev its rollout and the bad release (and its control);
#                          ARGS="--only x" plays x on both.
#   make rehearse ENV=x    your environment x, synthesized from cdk.json now, every scenario.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
REVISION ?= assets
BASELINE ?= assets
REPORT := rehearsal-report
REHEARSE = $(SUDO) .rehearse/rehearse --revision $(REVISION) --baseline $(BASELINE)
rehearse: $(if $(ENV),$(TOOLS)) ## Rehearse a revision offline under load (root, via sudo): make rehearse [ENV=name] [REVISION=dir] [BASELINE=dir] [ARGS="--only scale-in"].
	@mkdir -p .rehearse
	go build -o .rehearse/rehearse ./cmd/rehearse
	@$(SUDO) .rehearse/rehearse --check
	go test -c -tags sandbox -o .rehearse/sandbox.test ./cmd/rehearse
	@# Three at a time: each test is a rehearsal that mostly waits (drains, hooks, health checks).
	cd cmd/rehearse && $(SUDO) env REHEARSE_BINARY=$(CURDIR)/.rehearse/rehearse $(CURDIR)/.rehearse/sandbox.test -test.timeout=10m -test.parallel=3
	rm -rf $(REPORT)
ifdef ENV
	@# Synthesized apart from cdk.out, so that your cdk.out stays as it is.
	$(announce_cold_build)
	rm -rf .rehearse/cdk.out
	@echo "cdk synth --quiet -c env=$(ENV) -o .rehearse/cdk.out"
	@{ $(CDK) synth --quiet -c env=$(ENV) -o .rehearse/cdk.out 2>&1 1>&3 | $(quiet_failure) >&2; } 3>&1
	$(REHEARSE) --template $$(ls .rehearse/cdk.out/*-$(ENV).template.json) --out $(REPORT)/$(ENV) $(ARGS)
else
	@# Side by side: each rehearsal mostly waits (drains, monitor durations, the bake), and
	@# each runs in network namespaces of its own. Every line says whose it is.
	@mkdir -p $(REPORT); \
	 rehearse() { name=$$1; shift; echo "$$name | $(REHEARSE) --template test/testdata/Fixture-$$name.template.json --out $(REPORT)/$$name $$*"; \
	   { code=0; $(REHEARSE) --template test/testdata/Fixture-$$name.template.json --out $(REPORT)/$$name "$$@" 2>&1 || code=$$?; echo $$code >$(REPORT)/$$name.status; } | sed -u "s/^/$$name | /"; }; \
	 rehearse prod $(ARGS) & \
	 rehearse dev --only rollout,bad-release,control-unwatched $(ARGS) & \
	 wait; \
	 status=0; for env in prod dev; do [ "$$(cat $(REPORT)/$$env.status)" = 0 ] || { echo "make rehearse: $$env FAILED"; status=1; }; rm -f $(REPORT)/$$env.status; done; \
	 exit $$status
endif

clean:
	rm -rf cdk.out node_modules rehearsal-report .rehearse
