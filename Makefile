# The two commands of the README: `make run` and `make test`.
# Both start a private MariaDB under .rampart/ unless DATABASE_URL names an
# existing server (an administrator's URL: it must be able to create
# databases and users).

.PHONY: run test lint bench db-start db-stop clean

run:
	@scripts/run.sh

test:
	@scripts/test.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	@bench/run.sh

db-start:
	@scripts/db.sh start

db-stop:
	@scripts/db.sh stop

clean:
	scripts/db.sh stop
	cargo clean
