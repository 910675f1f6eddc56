#!/bin/sh
# One image, several process types: web | worker | reconcile | migrate | <any command>.
set -eu

: "${PORT:=8000}"
: "${WEB_CONCURRENCY:=2}"
: "${SERVER:=uvicorn}"
: "${FORWARDED_ALLOW_IPS:=127.0.0.1}"

prepare_metrics_dir() {
  # prometheus-client multiprocess files: one set per process of this container. Stale files left by
  # a killed process would keep counting, so the directory is emptied before the processes start.
  # Each process type (web, worker) needs its own directory: the other's live files would be removed.
  if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  fi
}

case "${1:-web}" in
  web)
    prepare_metrics_dir
    case "$SERVER" in
      uvicorn)
        exec python -m uvicorn config.asgi:application --host 0.0.0.0 --port "$PORT" \
          --workers "$WEB_CONCURRENCY" --proxy-headers --forwarded-allow-ips "$FORWARDED_ALLOW_IPS" \
          --no-access-log --ws-per-message-deflate false --timeout-graceful-shutdown 20 ;;
      granian)
        exec python -m granian --interface asgi --host 0.0.0.0 --port "$PORT" \
          --workers "$WEB_CONCURRENCY" config.asgi:application ;;
      daphne)
        exec python -m daphne -b 0.0.0.0 -p "$PORT" --proxy-headers config.asgi:application ;;
      *) echo "unknown SERVER=$SERVER (uvicorn, granian, daphne)" >&2; exit 2 ;;
    esac ;;
  worker)
    prepare_metrics_dir
    exec python manage.py process_webhooks --metrics-port "${WORKER_METRICS_PORT:-9100}" ;;
  reconcile)
    exec python manage.py reconcile_orders --every "${RECONCILE_EVERY:-900}" ;;
  migrate)
    exec python manage.py migrate --noinput ;;
  *)
    exec "$@" ;;
esac
