#!/usr/bin/env bash
# infrastructure/metrics_dir.sh COMMAND...: run COMMAND (a line of infrastructure/Procfile) with
# a prometheus-client multiprocess directory of its own, var/metrics/<process name>, emptied
# first. The processes it forks (gunicorn's and uvicorn's workers, Celery's prefork children)
# keep their values in files there, which the group's /metrics adds up (shared/metrics.py);
# emptying it at each start keeps a previous run's files out of the sums.
set -euo pipefail
name="${HONCHO_PROCESS_NAME:?run by honcho or the supervisord of make run}"
dir="$PWD/var/metrics/$name"
rm -rf "$dir"
mkdir -p "$dir"
export PROMETHEUS_MULTIPROC_DIR="$dir"
exec "$@"
