# ChegouHub realtime sync: one image for every process type (see Procfile and docs/deploy.md).
#   docker build -t chegouhub .
#   docker run --env-file .env chegouhub migrate
#   docker run --env-file .env -p 8000:8000 chegouhub web
#   docker run --env-file .env chegouhub worker
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 app

# Dependencies first (cached while only the code changes).
COPY pyproject.toml ./
RUN mkdir -p chegouhub config && touch chegouhub/__init__.py config/__init__.py \
    && pip install . && pip uninstall -y chegouhub-sync && rm -rf chegouhub config build *.egg-info

COPY manage.py ./
COPY config ./config
COPY chegouhub ./chegouhub
COPY ops ./ops

# collectstatic reads settings but no database: any PostgreSQL URL will do (DATABASE_URL is required).
RUN DJANGO_SECRET_KEY=build-only DATABASE_URL=postgres://build@127.0.0.1/unused LOG_DIR=/tmp/build-logs \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/logs /tmp/prometheus && chown -R app:app /app/logs /tmp/prometheus

# The web server is a setting: SERVER=uvicorn (default), granian (pip install granian) or daphne.
ENV SERVER=uvicorn \
    WEB_CONCURRENCY=2 \
    PORT=8000 \
    LOG_DIR=/app/logs \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"
ENTRYPOINT ["/app/ops/entrypoint.sh"]
CMD ["web"]
