# The two commands a newcomer needs: `make run` (the whole system) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: run test bench faults drill lint format services keycloak migrate demo stop venv prometheus

# Processes of `make run`: WEB_WORKERS gunicorn workers (WEB_THREADS threads each), WS_WORKERS
# uvicorn workers, BOOKING_WORKERS booking-worker processes (each a thread pool of
# BOOKING_THREADS).
BOOKING_WORKERS ?= 1
# REDIS_CLUSTER=1: the seat locks on the local Redis Cluster (infrastructure/redis_cluster.sh,
# 127.0.0.1:7000-7005) instead of the single Redis; the channel layer and cache stay there.
REDIS_CLUSTER ?= 0
ifeq ($(REDIS_CLUSTER),1)
export REDIS_CLUSTER_NODES := $(shell infrastructure/redis_cluster.sh nodes)
endif

$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f .venv/.installed-* && touch $@

venv: $(VENV_STAMP)

services: venv
	@infrastructure/provision.sh
	@if [ "$(REDIS_CLUSTER)" = 1 ]; then infrastructure/redis_cluster.sh start; fi

keycloak:
	@keycloak/keycloak.sh start

migrate: services
	@$(PY) manage.py migrate --noinput -v0

demo: migrate
	@$(PY) manage.py load_demo

run: demo keycloak
	@$(PY) manage.py collectstatic --noinput -v0
	@infrastructure/print_urls.sh
	@# Supervised: a process that crashes is restarted and the others keep serving; Ctrl-C
	@# stops them all. The Procfile stays the list of processes (infrastructure/supervisord/).
	@mkdir -p var/log var/run
	@honcho export -f infrastructure/Procfile -d . -t infrastructure/supervisord -a ticketing \
		-s /bin/bash -u "$$(id -un)" -c worker=$(BOOKING_WORKERS) supervisord var/supervisor
	exec supervisord -n -c var/supervisor/ticketing.conf

# The suite's wall time is printed at the end (CI must stay well under 30 minutes).
test: services keycloak
	ruff check .
	lint-imports
	@start=$$(date +%s); pytest; status=$$?; \
	echo "make test: pytest wall time $$(( $$(date +%s) - start )) s"; exit $$status

# Needs `make run` in another terminal; the bench starts only its own bare baseline server.
bench: services keycloak
	$(PY) -m bench $(BENCH_ARGS)

# The fault drill (bench/faults.py), against `make run` in another terminal. Pick scenarios with
# FAULTS=worker_kill,web_kill; without it, the ones that stop no service other programs share.
faults: services keycloak
	$(PY) -m bench.faults $(if $(FAULTS),--only $(FAULTS)) $(FAULTS_ARGS)

# The failover drill on the local Redis Cluster (started by the test): a master is killed
# mid-sale; prints the seconds without service, holds refused, seats sold twice, lost ones.
drill: services
	$(PY) -m pytest tests/cluster/test_cluster_sale.py -k drill -q -s

# Debian's Prometheus scraping every process of `make run` (infrastructure/prometheus.yml), its
# UI on http://localhost:9090/; needs `make run` in another terminal. Data kept in var/prometheus.
prometheus: services
	@mkdir -p var/prometheus
	exec prometheus --config.file=infrastructure/prometheus.yml \
		--storage.tsdb.path=var/prometheus --web.listen-address=127.0.0.1:9090

lint: venv
	ruff check .
	ruff format --check .
	lint-imports
	$(PY) manage.py makemigrations --check --dry-run

format: venv
	ruff check --fix .
	ruff format .

stop:
	-keycloak/keycloak.sh stop
