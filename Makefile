# The runbook's make targets, for a one-binary system (no Docker, Postgres or Redis: state is
# embedded). `make help` lists them.
CONFIG ?= configs/app.yaml
BIN := target/release/aitrapp
CARGO ?= cargo
STAMP := $(shell date +%Y%m%d-%H%M%S)

.PHONY: help dev build paper live test check-config doctor alert-test state backup-db restore-db shell-postgres bench

help:
	@echo "make dev            build the release binary and validate $(CONFIG) (the runbook's 'start infrastructure')"
	@echo "make paper          run in PAPER mode (synthetic market when no Kite credentials exist)"
	@echo "make live           run in LIVE mode: asks you to type CONFIRM LIVE TRADING"
	@echo "make test           the test suite (what CI runs after fmt and clippy)"
	@echo "make check-config   validate $(CONFIG): OK or every problem, exit 0 or 2"
	@echo "make doctor         the pre-flight checklist: a green or red line (with a hint) per check, exit 0 or 1"
	@echo "make alert-test     one test message to each configured alert channel (Telegram, Slack, email)"
	@echo "make state          the running system's memory-mapped snapshot as JSON"
	@echo "make backup-db      the journals and configs (never .env) to backups/, consistent while the engine runs"
	@echo "make restore-db BACKUP_FILE=...  put a backup's journals back (refuses while the engine runs or on a bad checksum)"
	@echo "make shell-postgres there is no database: prints the embedded state instead"
	@echo "make bench          criterion and pipeline benches (see PERF.md)"

build:
	$(CARGO) build --release

dev: build check-config
	@echo "Ready: no infrastructure to start (one binary, embedded state). Next: make paper"

check-config: build
	$(BIN) check-config $(CONFIG)

doctor: build
	$(BIN) doctor --config $(CONFIG)

alert-test: build
	$(BIN) alert-test --config $(CONFIG)

paper: build
	$(BIN) run --config $(CONFIG) --mode PAPER

live: build
	$(BIN) run --config $(CONFIG) --mode LIVE

test:
	$(CARGO) test --release

state: build
	$(BIN) snapshot --config $(CONFIG)

shell-postgres: state
	@echo "(aitrapp keeps its state embedded; the above is the live snapshot. Orders: curl -s localhost:8000/orders | jq)" >&2

backup-db: build
	$(BIN) backup --config $(CONFIG) --out backups/aitrapp-$(STAMP).atb

restore-db: build
	@test -n "$(BACKUP_FILE)" || { echo "usage: make restore-db BACKUP_FILE=backups/aitrapp-....atb" >&2; exit 2; }
	$(BIN) restore --config $(CONFIG) $(BACKUP_FILE)

bench:
	$(CARGO) bench --bench codec
	$(CARGO) bench --bench ring
	$(CARGO) bench --bench pipeline
