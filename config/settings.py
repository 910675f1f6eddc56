"""Settings, read from the environment and parsed strictly (CONTRACT section 1)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.retry import Retry as RedisRetry

from chegouhub.common.apiversion import API_VERSION_MESSAGE, is_valid_api_version
from redis.backoff import NoBackoff

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def strict_bool(name: str, default: bool) -> bool:
    """Like env.bool, but a typo ("ture", "maybe") fails loudly instead of meaning False."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


DEBUG = strict_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # A production process without a real key would sign sessions with a guessable one.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (any long random string) or run with DJANGO_DEBUG=true "
            "for local development."
        )
    SECRET_KEY = "insecure-dev-key-only-for-DJANGO_DEBUG-true"

# Old secret keys: still accepted for signatures and, through derived keys, for credentials.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
# Key for the Shopify credentials encrypted at rest; derived from SECRET_KEY unless given. The first
# key encrypts, every key (and the fallbacks) decrypts: chegouhub/stores/fields.py, docs/deploy.md.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
FIELD_ENCRYPTION_KEY_FALLBACKS = env.list("FIELD_ENCRYPTION_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True
CSRF_TRUSTED_ORIGINS = list(CORS_ALLOWED_ORIGINS)

WEBHOOK_BASE_DOMAIN = env.str("WEBHOOK_BASE_DOMAIN", default="http://127.0.0.1:8000")
# The addresses given to Shopify (base_domain, --webhook-url) must be https:// public host names;
# plain http:// and loopback/private addresses only in development (the tests set it explicitly).
WEBHOOK_ALLOW_INSECURE_URLS = strict_bool("WEBHOOK_ALLOW_INSECURE_URLS", default=DEBUG)
# The newest stable version the code is tested against; one older than twelve months warns (apiversion.py).
SHOPIFY_API_VERSION = env.str("SHOPIFY_API_VERSION", default="2026-10")
if not is_valid_api_version(SHOPIFY_API_VERSION):
    # It becomes part of every Admin API URL: refuse to start rather than call a wrong one.
    raise ImproperlyConfigured(f"SHOPIFY_API_VERSION={SHOPIFY_API_VERSION!r}: {API_VERSION_MESSAGE}")
SHOPIFY_ADMIN_URL_TEMPLATE = env.str(
    "SHOPIFY_ADMIN_URL_TEMPLATE", default="https://{shop}/admin/api/{version}/graphql.json"
)
if "{shop}" not in SHOPIFY_ADMIN_URL_TEMPLATE or "{version}" not in SHOPIFY_ADMIN_URL_TEMPLATE:
    raise ImproperlyConfigured("SHOPIFY_ADMIN_URL_TEMPLATE must contain {shop} and {version}.")
SHOPIFY_HTTP_TIMEOUT = env.float("SHOPIFY_HTTP_TIMEOUT", default=10.0)
# Proves a token opens a shop, for claiming a domain held by an unverified loja (chegouhub/stores/ownership.py).
SHOP_TOKEN_CHECKER = "chegouhub.shopify.subscriptions.token_opens_shop"

# The Shopify app's install flow (CONTRACT section 9): the app's client id and secret (the secret
# also signs the webhooks of lojas connected this way), the scopes asked, and where Shopify's
# authorize page and token endpoint are (tests and the demo point them at the fake Shopify).
SHOPIFY_API_KEY = env.str("SHOPIFY_API_KEY", default="")
SHOPIFY_API_SECRET = env.str("SHOPIFY_API_SECRET", default="")
SHOPIFY_SCOPES = env.str(
    "SHOPIFY_SCOPES", default="read_orders,read_products,read_inventory,write_inventory,read_locations"
)
SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE = env.str(
    "SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE", default="https://{shop}/admin/oauth/authorize"
)
SHOPIFY_OAUTH_TOKEN_TEMPLATE = env.str("SHOPIFY_OAUTH_TOKEN_TEMPLATE", default="https://{shop}/admin/oauth/access_token")
# Expiring offline tokens (docs/tokens.md): refreshed this many seconds before they expire.
SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS = env.float("SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS", default=300.0)
for _name in ("SHOPIFY_OAUTH_AUTHORIZE_TEMPLATE", "SHOPIFY_OAUTH_TOKEN_TEMPLATE"):
    if "{shop}" not in globals()[_name]:
        raise ImproperlyConfigured(f"{_name} must contain {{shop}}.")
# Catalog import: above this many variants (the shop's productVariantsCount) a bulk operation.
CATALOG_BULK_THRESHOLD = env.int("CATALOG_BULK_THRESHOLD", default=5000)
# Stock pushed to Shopify (CONTRACT 10, docs/stock-sync.md): at most one inventorySetQuantities
# call per loja in this many seconds (the changes meanwhile share it), and how often push_stock looks.
STOCK_PUSH_MIN_INTERVAL = env.float("STOCK_PUSH_MIN_INTERVAL", default=1.0)
# A loja that may sell what is gone (a variant to take to 0) is called again sooner than MIN_INTERVAL.
STOCK_PUSH_URGENT_INTERVAL = env.float("STOCK_PUSH_URGENT_INTERVAL", default=0.1)
STOCK_PUSH_POLL_SECONDS = env.float("STOCK_PUSH_POLL_SECONDS", default=0.1)
# In a rush the calls follow the sales: each loja of a depósito is paced so its calls stay within
# this many per stock change (0: never paced). Below the 0.1 on purpose: a stale answer
# costs a read and a second call, and the pace follows the sales a second or so late. A depósito
# is in a rush while that pace is at most RUSH_MAX_INTERVAL seconds; slower, delay comes first.
STOCK_PUSH_CALLS_PER_CHANGE = env.float("STOCK_PUSH_CALLS_PER_CHANGE", default=0.07)
STOCK_PUSH_RUSH_MAX_INTERVAL = env.float("STOCK_PUSH_RUSH_MAX_INTERVAL", default=1.6)

# Webhook receiver limits (CONTRACT section 4).
WEBHOOK_PATH = "/api/estoque/webhook/shopify/"
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# Every other route's body limit (CONTRACT section 8), refused before reading (common/body_limit.py).
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=1024 * 1024)
WEBHOOK_FAILED_REQUESTS_PER_MINUTE = env.int("WEBHOOK_FAILED_REQUESTS_PER_MINUTE", default=60)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=5.0)
# Rejection counters (repeats, bad signatures: one row per loja, reason and minute) older than
# this are purged by `process_webhooks`; the stats cover at most this many days of them.
WEBHOOK_REJECTION_RETENTION_DAYS = env.int("WEBHOOK_REJECTION_RETENTION_DAYS", default=365)
# Raw webhook bodies hold customers' personal data: emptied after this many days by `process_webhooks`
# (bodies of deliveries still failed, processing or dead are kept until resolved). docs/privacy.md
WEBHOOK_BODY_RETENTION_DAYS = env.int("WEBHOOK_BODY_RETENTION_DAYS", default=30)
if WEBHOOK_BODY_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("WEBHOOK_BODY_RETENTION_DAYS must be at least 1.")
# The event log keeps what resume and polling need: events older than this many days are deleted
# in batches by `process_webhooks` (never one an in-house reader has not read yet). docs/history.md
EVENT_LOG_RETENTION_DAYS = env.int("EVENT_LOG_RETENTION_DAYS", default=7)
if EVENT_LOG_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("EVENT_LOG_RETENTION_DAYS must be at least 1.")
# How long each process trusts its copy of a loja's secret and state: a deactivated loja or a new
# secret is refused by every process within this (CONTRACT section 4: at most 1 s).
LOJA_CACHE_SECONDS = env.float("LOJA_CACHE_SECONDS", default=0.5)
if not 0 <= LOJA_CACHE_SECONDS <= 1:
    raise ImproperlyConfigured("LOJA_CACHE_SECONDS must be between 0 and 1 (CONTRACT section 4).")
# The lean webhook route (chegouhub/shopify/lean/, PostgreSQL only; docs/benchmark.md): on by
# default; its connection pool per worker process, and how long a request waits for a connection
# before answering 503.
WEBHOOK_FAST_PATH = env.bool("WEBHOOK_FAST_PATH", default=True)
WEBHOOK_DB_POOL_SIZE = env.int("WEBHOOK_DB_POOL_SIZE", default=8)
WEBHOOK_DB_POOL_TIMEOUT = env.float("WEBHOOK_DB_POOL_TIMEOUT", default=5.0)
# The lean route's batches: at most this many webhooks share one transaction, and at most this
# many transactions run at once per process (docs/benchmark.md, "Batches").
WEBHOOK_BATCH_MAX = env.int("WEBHOOK_BATCH_MAX", default=64)
WEBHOOK_BATCH_CONCURRENCY = env.int("WEBHOOK_BATCH_CONCURRENCY", default=1)
# How long the lean route's transactions wait for a lock before giving way to the Django path.
WEBHOOK_LOCK_TIMEOUT_MS = env.int("WEBHOOK_LOCK_TIMEOUT_MS", default=2000)

# WebSockets (CONTRACT section 5).
WS_IDLE_TIMEOUT_SECONDS = env.float("WS_IDLE_TIMEOUT_SECONDS", default=300.0)
WS_MAX_CLIENT_FRAME_BYTES = env.int("WS_MAX_CLIENT_FRAME_BYTES", default=4096)
WS_GROUP_REFRESH_SECONDS = env.float("WS_GROUP_REFRESH_SECONDS", default=3600.0)
# How often each process checks its sockets' users (one query: deactivated, new password, even by
# QuerySet.update or SQL) and re-checks their sessions (deleted, expired); 0: never (realtime/revocation.py).
WS_ACCESS_CHECK_SECONDS = env.float("WS_ACCESS_CHECK_SECONDS", default=2.0)
WS_SESSION_CHECK_SECONDS = env.float("WS_SESSION_CHECK_SECONDS", default=30.0)
# How long a socket holds an event that arrived ahead of a missing one before reading the log.
WS_GAP_WAIT_SECONDS = env.float("WS_GAP_WAIT_SECONDS", default=0.2)
# In-memory channel layer only (no REDIS_URL): read the event log this often so sockets hear what
# other processes (push_stock, process_webhooks) record; 0: off (realtime/relay.py). `make run`: 1.
WS_LOG_RELAY_SECONDS = env.float("WS_LOG_RELAY_SECONDS", default=0.0)
# The ASGI process's garbage collector (chegouhub/common/gc.py): three ints, or empty for Python's own.
GC_THRESHOLD = env.str("GC_THRESHOLD", default="50000,20,100")

LOG_DIR = Path(env.str("LOG_DIR", default=str(BASE_DIR / "logs")))
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "chegouhub.common",
    "chegouhub.accounts",
    "chegouhub.stores",
    "chegouhub.inventory",
    "chegouhub.sales",
    "chegouhub.shopify",
    "chegouhub.realtime",
    "chegouhub.notify",
    "chegouhub.catalog",
    "chegouhub.stocksync",
    "chegouhub.push",
    "chegouhub.privacy",
    "chegouhub.dashboard",
    "chegouhub.devtools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "chegouhub.common.middleware.QueryParamsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the 429 (chegouhub/accounts/limits.py).
    "axes.middleware.AxesMiddleware",
]

# Failed logins (CONTRACT section 8): django-axes' database handler, so every process shares the
# counts; per (username, address) pair and per address, never per username alone (anyone could
# lock a merchant out). Past a limit within the window, 429 with Retry-After (accounts/limits.py).
# Called after a logout, a new password, a deactivation (chegouhub/accounts/services.py): the
# sockets of that session or user close on every process.
ACCESS_REVOKED_HANDLERS = ["chegouhub.realtime.revocation.close_user_sockets"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)  # per (username, address) pair
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=30)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
LOGIN_LOCKED_TEMPLATE = "dashboard/login.html"
AXES_HANDLER = "chegouhub.accounts.limits.LoginFailureHandler"
# In the order of limits.failure_limits(): LOGIN_FAILURE_LIMIT, LOGIN_FAILURE_LIMIT_PER_ADDRESS.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_LOCK_OUT_AT_FAILURE = False  # a failure answers as one; the handler's is_locked refuses the next attempt
AXES_COOLOFF_TIME = lambda request: timedelta(seconds=LOGIN_FAILURE_WINDOW_SECONDS)  # noqa: E731
AXES_RESET_ON_SUCCESS = False
# A refused attempt does not restart the window: the lock ends LOGIN_FAILURE_WINDOW_SECONDS after the last failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "chegouhub.accounts.limits.client_address"
AXES_LOCKOUT_CALLABLE = "chegouhub.accounts.limits.locked_out_response"
AXES_DISABLE_ACCESS_LOG = True  # failures are what is counted; no row per successful login
AXES_VERBOSE = False
# Masked in what axes stores of a failed attempt's GET/POST (the password always is).
AXES_SENSITIVE_PARAMETERS = ["csrfmiddlewaretoken", "session_key", "token", "access_token", "webhook_secret"]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL only. Unset (or empty), `make run`, `make test` and manage.py start the embedded one
# (chegouhub/common/embedded_pg.py) and hand its URL to everything they start.
_database_url = env.str("DATABASE_URL", default="")
if not _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make run`, `make test` and `python manage.py ...` start the embedded "
        "PostgreSQL themselves; run anything else on it with `python -m chegouhub.common.embedded_pg -- <command>`, "
        "or set DATABASE_URL=postgres://user@host:5432/chegouhub."
    )
_scheme = _database_url.split("://", 1)[0].lower() if "://" in _database_url else ""
if _scheme not in ("postgres", "postgresql", "pgsql"):
    # Only the scheme is named: the rest may hold a password.
    raise ImproperlyConfigured(
        f"DATABASE_URL must be a PostgreSQL URL (postgres://user@host:5432/chegouhub), not {_scheme or 'this'}://... "
        "SQLite is no longer supported (an old db.sqlite3 is not read); unset DATABASE_URL for the embedded PostgreSQL."
    )
DATABASES = {"default": env.db_url_config(_database_url)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
# POSTGRES_TEST_NAME lets concurrent test runs on one server use separate test databases.
DATABASES["default"]["TEST"] = {"NAME": env.str("POSTGRES_TEST_NAME", default="") or None}
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)
# A connection pool per process (Django's psycopg pool; 0 turns it off, and so does a non-zero
# DB_CONN_MAX_AGE, which Django cannot combine with it). Under ASGI each request and each socket's
# database call runs in a fresh thread, so without it every one of them opens a new connection,
# which is a PostgreSQL backend fork (docs/benchmark.md).
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=4)
if DB_POOL_SIZE and not DATABASES["default"]["CONN_MAX_AGE"]:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1, "max_size": DB_POOL_SIZE, "timeout": float(env.int("DB_CONNECT_TIMEOUT", default=5)),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer by default: in the flash-sale benchmark it delivered every event with a
            # fraction of RedisChannelLayer's end-to-end latency; the project's subclass decodes a
            # message once per process instead of once per socket (docs/benchmark.md).
            "BACKEND": env.str("CHANNEL_LAYER_BACKEND", default="chegouhub.realtime.layers.FanoutPubSubChannelLayer"),
            "CONFIG": {
                # Connect timeout bounds how long a publish or a socket waits on a dead Redis; one
                # retry replaces a pooled connection that a Redis restart left dead.
                "hosts": [
                    {"address": h.strip(), "socket_connect_timeout": 2, "socket_keepalive": True,
                     "retry": RedisRetry(NoBackoff(), 1)}
                    for h in REDIS_URL.split(",")
                    if h.strip()
                ],
                # Distinct prefixes let several deployments (or test runs) share one Redis.
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
                "expiry": 60,  # seed: message TTL 60 s
                "group_expiry": 86400,  # seed: group membership 24 h
                "capacity": 1000,
            },
        }
    }
    if CHANNEL_LAYERS["default"]["BACKEND"].endswith("PubSubChannelLayer"):
        CHANNEL_LAYERS["default"]["CONFIG"] = {
            key: CHANNEL_LAYERS["default"]["CONFIG"][key] for key in ("hosts", "prefix")
        }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL.split(",")[0].strip(),
            "TIMEOUT": 300,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Process-local: the receiver's loja lookups (with their decrypted secret) never leave the process.
CACHES["local"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local", "TIMEOUT": 30}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "pt-br"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

SESSION_COOKIE_HTTPONLY = True
LOGIN_URL = "/"

# HTTPS behind a proxy (docs/deploy.md). All off by default: `make run` is plain http on 127.0.0.1.
# With them set as documented, `manage.py check --deploy` has nothing to say (a test keeps it so).
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _proxy_ssl_header:
    # "HTTP_X_FORWARDED_PROTO,https": the header the proxy sets, and its value on an HTTPS request.
    # Only behind a proxy that always sets (or strips) that header; otherwise a client could fake it.
    _name, _, _value = _proxy_ssl_header.partition(",")
    if not _name.strip().startswith("HTTP_") or not _value.strip():
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be like HTTP_X_FORWARDED_PROTO,https.")
    SECURE_PROXY_SSL_HEADER = (_name.strip(), _value.strip())
SECURE_SSL_REDIRECT = strict_bool("SECURE_SSL_REDIRECT", default=False)
# The load balancer's health checks and the metrics scraper may speak plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = strict_bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = strict_bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = strict_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = strict_bool("SECURE_HSTS_PRELOAD", default=False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "chegouhub.common.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_SCHEMA_CLASS": "chegouhub.common.schema.AutoSchema",
    "EXCEPTION_HANDLER": "chegouhub.common.errors.exception_handler",
    # JSON through chegouhub/common/jsonparse.py: nesting beyond its limit is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "chegouhub.common.jsonparse.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Per endpoint, per user / per anonymous address (chegouhub/common/throttling.py); 429 + Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "chegouhub.common.throttling.EndpointAnonRateThrottle",
        "chegouhub.common.throttling.EndpointUserRateThrottle",
    ],
    # Proxies in front that append to X-Forwarded-For (0: the client address is REMOTE_ADDR).
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="120/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ChegouHub realtime sync API",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the drf-spectacular-sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chegouhub.shopify.schema.add_webhook_receiver",
    ],
}

# /metrics: `Authorization: Bearer <METRICS_TOKEN>`. Without a token it is open only with
# DJANGO_DEBUG=true; a production process without one answers 403 (CONTRACT section 8).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_OPEN_WITHOUT_TOKEN = DEBUG

# Outbound alerts to the lojas' Slack/Discord incoming webhooks (chegouhub/notify).
NOTIFY_ALLOWED_HOSTS = env.list(
    "NOTIFY_ALLOWED_HOSTS", default=["hooks.slack.com", "discord.com", "discordapp.com", "ptb.discord.com",
                                     "canary.discord.com"]
)
NOTIFY_REQUIRE_HTTPS = strict_bool("NOTIFY_REQUIRE_HTTPS", default=True)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=8)
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=10.0)

# Web Push (chegouhub/push, docs/push.md): VAPID keys as `generate_vapid_keys` prints them.
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="")
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="mailto:suporte@chegouhub.com.br")
if not VAPID_SUBJECT.startswith(("mailto:", "https:")):
    raise ImproperlyConfigured("VAPID_SUBJECT must start with mailto: or https: (RFC 8292).")
# Push endpoints (chegouhub/push/endpoints.py): https:// to one of these hosts (`*.x`: its subdomains,
# `*`: any) resolving only to public addresses; http/https to loopback only in debug (the demo, tests).
PUSH_ALLOWED_HOSTS = env.list("PUSH_ALLOWED_HOSTS", default=[
    "fcm.googleapis.com", "updates.push.services.mozilla.com", "*.notify.windows.com", "*.push.apple.com",
    "web.push.apple.com"])
PUSH_ALLOW_HTTP_LOOPBACK = strict_bool("PUSH_ALLOW_HTTP_LOOPBACK", default=DEBUG)
if PUSH_ALLOW_HTTP_LOOPBACK and not DEBUG:
    raise ImproperlyConfigured("PUSH_ALLOW_HTTP_LOOPBACK=true needs DJANGO_DEBUG=true: a production worker "
                               "never posts to its own machine.")
PUSH_CONCURRENCY = env.int("PUSH_CONCURRENCY", default=4)
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=8)
PUSH_RETRY_BASE_SECONDS = env.float("PUSH_RETRY_BASE_SECONDS", default=5.0)
PUSH_MAX_PER_PASS = env.int("PUSH_MAX_PER_PASS", default=3)
PUSH_TTL_SECONDS = env.int("PUSH_TTL_SECONDS", default=12 * 3600)
PUSH_SETTLE_SECONDS = env.float("PUSH_SETTLE_SECONDS", default=5.0)

LOG_DIR.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "chegouhub.common.logging.RedactingFilter"},
        "not_refused_by_limit": {"()": "chegouhub.common.logging.NotRefusedByLimit"},
    },
    "formatters": {
        "json": {
            "()": "chegouhub.common.logging.JsonLinesFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"]},
        **{
            name: {
                "class": "logging.handlers.WatchedFileHandler",
                "filename": str(LOG_DIR / f"{name}.log"),
                "formatter": "json",
                "filters": ["redact"],
            }
            for name in ("estoque", "webhook", "channels")
        },
    },
    "loggers": {
        "chegouhub.estoque": {"handlers": ["estoque"], "level": LOG_LEVEL, "propagate": False},
        "chegouhub.webhook": {"handlers": ["webhook"], "level": LOG_LEVEL, "propagate": False},
        "chegouhub.channels": {"handlers": ["channels"], "level": LOG_LEVEL, "propagate": False},
        # Its "Too Many Requests" lines: a request refused by a limit (429) writes no line.
        "django.request": {"filters": ["not_refused_by_limit"]},
        # Access logs carry query strings (session_key=...): keep them out of the files.
        "uvicorn.access": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # Its debug lines carry request paths: Web Push endpoints are capability URLs (chegouhub/push).
        "urllib3": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": env.str("ROOT_LOG_LEVEL", default="WARNING")},
}
