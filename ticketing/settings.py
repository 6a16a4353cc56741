"""Settings for every process (web, ws, worker, notifier, beat), read from the environment.

Each variable is documented in ``.env.example``. Defaults match the local services that
``infrastructure/provision.sh`` starts, so development needs no configuration at all.
"""

from pathlib import Path

import environ

from shared import logs

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
DEVELOPMENT = env.bool("DEVELOPMENT", default=True)
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", default=_DEV_SECRET_KEY if DEVELOPMENT else None)
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEVELOPMENT is off")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=["http://localhost:8000"])
PUBLIC_URL = env("PUBLIC_URL", default="http://localhost:8000")

INSTALLED_APPS = [
    "ticketing.auth",  # first: its admin/login.html template overrides the admin's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mozilla_django_oidc",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "shared",
    "seatmaps",
    "registration_worker",
    "payments",
    "ticketing",
    "notifications",
    "sales",  # after ticketing: its admin extends the event and booking admins
]

MIDDLEWARE = [
    "ticketing.tracing.RequestIdMiddleware",  # first: every later log line has the trace id
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "ticketing.middleware.CachedAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ticketing.urls"
WSGI_APPLICATION = "ticketing.wsgi.application"
ASGI_APPLICATION = "ticketing.asgi.application"

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

# --- PostgreSQL (psycopg 3 with its connection pool) --------------------------------------
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgres://ticketing:ticketing@127.0.0.1:5432/ticketing"
    )
}
DATABASES["default"]["OPTIONS"] = {
    "pool": {
        "min_size": env.int("DATABASE_POOL_MIN", default=1),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    },
    "connect_timeout": 5,
}
# With the pool this makes psycopg check a connection (one empty round trip) before handing
# it out: after a PostgreSQL restart the idle ones are dead and would fail their next request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: seat locks (db 0), channel layer (db 1), cache (db 2) --------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Seat locks and seat-change streams on a Redis Cluster instead (``host:port,host:port``, any
# of its nodes): REDIS_URL is then unused; the channel layer and the cache stay on their URLs.
REDIS_CLUSTER_NODES = env("REDIS_CLUSTER_NODES", default="")
CHANNEL_LAYER_REDIS_URL = env("CHANNEL_LAYER_REDIS_URL", default="redis://127.0.0.1:6379/1")
CACHE_URL = env("CACHE_URL", default="redis://127.0.0.1:6379/2")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "tkcache",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, exactly channels-redis's
            # BZPOPMIN wait: every consumer idle for 5 s died with TimeoutError (its socket
            # closed). Reads must be allowed to outlast the blocking pop.
            "hosts": [{"address": CHANNEL_LAYER_REDIS_URL, "socket_timeout": 30}],
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# --- Celery on RabbitMQ --------------------------------------------------------------------
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL", default="amqp://ticketing:ticketing@127.0.0.1:5672/ticketing"
)
BOOKINGS_DELIVERY_LIMIT = env.int("BOOKINGS_DELIVERY_LIMIT", default=10)
# The booking worker books up to this many commands in one transaction, waiting at most this
# long after the first one for the batch to fill (registration_worker/batching.py).
BOOKING_BATCH_SIZE = env.int("BOOKING_BATCH_SIZE", default=64)
BOOKING_BATCH_WAIT_MS = env.float("BOOKING_BATCH_WAIT_MS", default=5.0)
PAYMENTS_DELIVERY_LIMIT = env.int("PAYMENTS_DELIVERY_LIMIT", default=10)
# Deliveries of one booking event to the sales projector before it is dead-lettered.
SALES_DELIVERY_LIMIT = env.int("SALES_DELIVERY_LIMIT", default=10)
# How often the organizer's sales dashboard asks for fresh figures while it is open.
SALES_DASHBOARD_REFRESH_SECONDS = env.int("SALES_DASHBOARD_REFRESH_SECONDS", default=3)
NOTIFICATIONS_DELIVERY_LIMIT = env.int("NOTIFICATIONS_DELIVERY_LIMIT", default=10)
# A batch that hits our own outage (Redis, PostgreSQL, RabbitMQ) runs again after waits that
# double up to this cap; past the budget its messages go back to RabbitMQ, never acked.
BOOKING_RETRY_MAX_WAIT_SECONDS = env.float("BOOKING_RETRY_MAX_WAIT_SECONDS", default=10.0)
BOOKING_RETRY_BUDGET_SECONDS = env.float("BOOKING_RETRY_BUDGET_SECONDS", default=120.0)
# A queued booking still pending this long after its command was published, with no command
# waiting in the bookings queue, gets its command published again (registration_worker/redrive.py).
BOOKING_REDRIVE_AFTER_SECONDS = env.float("BOOKING_REDRIVE_AFTER_SECONDS", default=60.0)

# --- Payments (payments/): the provider, its timeouts and the platform's commission ----------
PAYMENT_PROVIDER = env(
    "PAYMENT_PROVIDER", default="payments.providers.bank_simulator.BankSimulatorProvider"
)
PAYMENT_PROVIDER_URL = env("PAYMENT_PROVIDER_URL", default="http://127.0.0.1:8200")
# Where buyers' browsers load the provider's hosted card form (its origin is the only one a paid
# event's page may frame); the same as PAYMENT_PROVIDER_URL unless the browser reaches it elsewhere.
PAYMENT_PROVIDER_PUBLIC_URL = env("PAYMENT_PROVIDER_PUBLIC_URL", default=PAYMENT_PROVIDER_URL)
PAYMENT_PROVIDER_TIMEOUT = env.float("PAYMENT_PROVIDER_TIMEOUT", default=5.0)
PAYMENT_RETRY_BACKOFF_MAX = env.int("PAYMENT_RETRY_BACKOFF_MAX", default=60)
# Circuit breaker (payments/breaker.py): this many provider calls in a row without a definite
# answer open it; then no call goes to the provider for the cool-down.
PAYMENT_BREAKER_FAIL_MAX = env.int("PAYMENT_BREAKER_FAIL_MAX", default=5)
PAYMENT_BREAKER_RESET_SECONDS = env.float("PAYMENT_BREAKER_RESET_SECONDS", default=30.0)
PAYMENT_COMMISSION_PERCENT = env.str("PAYMENT_COMMISSION_PERCENT", default="5.00")
PAYMENT_COMMISSION_FIXED_FEE = env.str("PAYMENT_COMMISSION_FIXED_FEE", default="0.50")

# --- Mail ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="smtp://127.0.0.1:1025")
vars().update(EMAIL_CONFIG)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Ticketing <tickets@localhost>")
# An email's send is claimed before the SMTP server is contacted and marked sent after
# (notifications/emails.py): a failed mark is retried this long; a claim never marked is taken
# over (sent again) only once this old, i.e. after its sender died mid-send.
NOTIFICATION_RECORD_RETRY_SECONDS = env.float("NOTIFICATION_RECORD_RETRY_SECONDS", default=60.0)
NOTIFICATION_CLAIM_SECONDS = env.float("NOTIFICATION_CLAIM_SECONDS", default=120.0)

# --- Keycloak / OIDC -----------------------------------------------------------------------
KEYCLOAK_URL = env("KEYCLOAK_URL", default="http://localhost:8180")
KEYCLOAK_REALM = env("KEYCLOAK_REALM", default="ticketing")
KEYCLOAK_ISSUER = f"{KEYCLOAK_URL.rstrip('/')}/realms/{KEYCLOAK_REALM}"
KEYCLOAK_API_AUDIENCE = env("KEYCLOAK_API_AUDIENCE", default="ticketing-api")
_OIDC = f"{KEYCLOAK_ISSUER}/protocol/openid-connect"
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID", default="ticketing-web")
OIDC_RP_CLIENT_SECRET = env("OIDC_RP_CLIENT_SECRET", default="dev-only-ticketing-web-secret")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_OP_JWKS_ENDPOINT = f"{_OIDC}/certs"
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{_OIDC}/auth"
OIDC_OP_TOKEN_ENDPOINT = f"{_OIDC}/token"
OIDC_OP_USER_ENDPOINT = f"{_OIDC}/userinfo"
OIDC_OP_LOGOUT_ENDPOINT = f"{_OIDC}/logout"
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_TIMEOUT = 5
OIDC_RP_SCOPES = "openid email profile"

# Login through Keycloak unless KEYCLOAK_URL is empty (then Django's own login only).
KEYCLOAK_ENABLED = bool(KEYCLOAK_URL)
AUTHENTICATION_BACKENDS = [
    *(["ticketing.auth.oidc.KeycloakOIDCBackend"] if KEYCLOAK_ENABLED else []),
    "django.contrib.auth.backends.ModelBackend",
]
# When the servers reach Keycloak at another address than browsers do (Docker: keycloak:8180
# inside, localhost:8180 outside), server-to-server calls go to KEYCLOAK_INTERNAL_URL; tokens
# still carry the public issuer (Keycloak's KC_HOSTNAME).
KEYCLOAK_INTERNAL_URL = env("KEYCLOAK_INTERNAL_URL", default="")
if KEYCLOAK_INTERNAL_URL:
    _OIDC_BACK = (
        f"{KEYCLOAK_INTERNAL_URL.rstrip('/')}/realms/{KEYCLOAK_REALM}/protocol/openid-connect"
    )
    OIDC_OP_TOKEN_ENDPOINT = f"{_OIDC_BACK}/token"
    OIDC_OP_USER_ENDPOINT = f"{_OIDC_BACK}/userinfo"
    OIDC_OP_JWKS_ENDPOINT = f"{_OIDC_BACK}/certs"
# API bearer tokens are validated locally against the realm's JWKS (ticketing/auth/tokens.py).
KEYCLOAK_JWKS_URL = env("KEYCLOAK_JWKS_URL", default=OIDC_OP_JWKS_ENDPOINT)
KEYCLOAK_JWT_LEEWAY_SECONDS = env.int("KEYCLOAK_JWT_LEEWAY_SECONDS", default=30)
KEYCLOAK_JWKS_CACHE_SECONDS = env.int("KEYCLOAK_JWKS_CACHE_SECONDS", default=3600)
KEYCLOAK_JWKS_MIN_REFETCH_SECONDS = env.int("KEYCLOAK_JWKS_MIN_REFETCH_SECONDS", default=10)
KEYCLOAK_ORGANIZER_GROUP = "Organizers"
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the Keycloak logout
OIDC_OP_LOGOUT_URL_METHOD = "ticketing.auth.oidc.keycloak_logout_url"
OIDC_CREATE_USER = True
LOGIN_URL = "oidc_authentication_init" if KEYCLOAK_ENABLED else "admin:login"
LOGIN_REDIRECT_URL = env("LOGIN_REDIRECT_URL", default="/events/")
LOGIN_REDIRECT_URL_FAILURE = env("LOGIN_REDIRECT_URL_FAILURE", default="/admin/login/")
LOGOUT_REDIRECT_URL = env("LOGOUT_REDIRECT_URL", default="/events/")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        *(["ticketing.auth.authentication.KeycloakJWTAuthentication"] if KEYCLOAK_ENABLED else []),
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ticketing.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "holds": env("THROTTLE_HOLDS", default="60/min"),
        "registrations": env("THROTTLE_REGISTRATIONS", default="30/min"),
    },
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ticketing API",
    "DESCRIPTION": "Seat holds, registrations and bookings for events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- API errors and OpenAPI docs (issue 10) ------------------------------------------------
# Our parsers bound a body by DATA_UPLOAD_MAX_MEMORY_SIZE (413) and its nesting depth (400):
# DRF's own read the raw stream, so Django's limit never applied to JSON.
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "ticketing.api.parsers.JSONParser",
    "ticketing.api.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
# Swagger UI and ReDoc from the installed package: the docs work without internet access.
INSTALLED_APPS.append("drf_spectacular_sidecar")
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "COMPONENT_SPLIT_REQUEST": True,
        # The catalog and the detail share the event status; one name for its enum.
        "ENUM_NAME_OVERRIDES": {"EventStatusEnum": "shared.enums.EventStatus"},
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "ticketing.api.schema.document_error_responses",
        ],
    }
)

# --- Ticketing rules -----------------------------------------------------------------------
TICKET_SIGNING_KEY = env("TICKET_SIGNING_KEY", default=SECRET_KEY)
EVENT_RULES_CACHE_SECONDS = env.float("EVENT_RULES_CACHE_SECONDS", default=2.0)
# The longest a booking waits for an advisory lock (shared/db_locks.py) before answering 503.
ADVISORY_LOCK_TIMEOUT_MS = env.int("ADVISORY_LOCK_TIMEOUT_MS", default=10_000)
# Live seat maps (notifications/seat_fanout.py): one frame per event per window, and how many
# frames a socket may lag before it is resynced with a snapshot.
WS_BATCH_MS = env.int("WS_BATCH_MS", default=200)
WS_MAX_QUEUED = env.int("WS_MAX_QUEUED", default=50)
# Seat maps: how long a rendered map stays in the cache (a change bumps its revision, so this
# only bounds memory), and the largest SVG an organizer may upload.
SEATMAP_CACHE_SECONDS = env.int("SEATMAP_CACHE_SECONDS", default=24 * 3600)
SEATMAP_SVG_MAX_BYTES = env.int("SEATMAP_SVG_MAX_BYTES", default=5 * 1024 * 1024)
# The DRF class that authenticates a WebSocket's bearer token (notifications/ws_auth.py).
WS_TOKEN_AUTHENTICATION_CLASS = "ticketing.auth.authentication.KeycloakJWTAuthentication"  # noqa: S105

# --- i18n, static --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
MEDIA_ROOT = BASE_DIR / "var" / "media"
# One folder per machine, not per checkout: port 1025 has one sink, whichever checkout started it.
MAIL_SINK_DIR = Path(
    env("MAIL_SINK_DIR", default=str(Path.home() / ".local" / "share" / "ticketing" / "mail"))
).expanduser()

# One JSON object per line from every process (shared/logs.py), each with the trace id of the
# request it serves; LOG_FORMAT=console prints them for a person instead.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = logs.logging_config(
    level=env("LOG_LEVEL", default="INFO"),
    fmt=LOG_FORMAT,
    levels={
        "weasyprint": "WARNING",
        # 409 and 422 are everyday answers in a flash sale, not warnings.
        "django.request": "ERROR",
        "fontTools": "WARNING",
        # A line per task received and succeeded, and per beat tick: the services log what
        # happened to each booking themselves.
        "celery.app.trace": "WARNING",
        "celery.worker.strategy": "WARNING",
        "celery.beat": "WARNING",
    },
)
logs.configure_structlog()

# Sessions live in the Redis cache (backed by the database) so browser requests on the hold
# path do not read the session table.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Production hardening (issue 10): on unless DEVELOPMENT --------------------------------
_SECURE = not DEVELOPMENT


def _production_env(name, cast, production_value, development_value):
    """The variable if set and not empty, else the value for this mode.

    Empty counts as unset so that a copy of .env.example cannot turn a protection off.
    """
    if env.str(name, default=""):
        return cast(name)
    return production_value if _SECURE else development_value


# TLS ends at the proxy, which tells Django the original scheme in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _production_env("SECURE_SSL_REDIRECT", env.bool, True, False)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = _production_env("SECURE_HSTS_SECONDS", env.int, 31_536_000, 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _production_env(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", env.bool, True, False
)
SECURE_HSTS_PRELOAD = _production_env("SECURE_HSTS_PRELOAD", env.bool, True, False)
SESSION_COOKIE_SECURE = _production_env("SESSION_COOKIE_SECURE", env.bool, True, False)
CSRF_COOKIE_SECURE = _production_env("CSRF_COOKIE_SECURE", env.bool, True, False)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy (issue 10, django-csp; middleware in ticketing/csp.py) ----------
# Scripts run only from our origin or with this response's nonce: no inline scripts or handlers,
# no javascript: URLs, nothing from other hosts, whatever markup reaches a page (an uploaded SVG).
from csp.constants import NONCE, NONE, SELF  # noqa: E402

MIDDLEWARE.append("ticketing.csp.NoncedCSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # 'unsafe-inline' for styles only: style attributes cannot carry a nonce, and seat maps
        # (uploaded SVGs, --map-ratio, category swatches) and the admin use them. CSS cannot send
        # data anywhere since images, fonts and connections stay on our origin. No nonce here: a
        # nonce would make browsers ignore 'unsafe-inline'.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        # fetch and WebSockets: the same origin (CSP 3 'self' covers ws:/wss: to it).
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# --- Admin login (issue 10) -----------------------------------------------------------------
# Beside Keycloak the local password form is off unless ALLOW_LOCAL_LOGIN (on by default only in
# development, where the demo's local accounts live); ticketing/auth/backends.py is the gate.
ALLOW_LOCAL_LOGIN = _production_env("ALLOW_LOCAL_LOGIN", env.bool, False, True)
# Whatever local form stays on locks a username out after repeated wrong passwords
# (django-axes, attempts stored in PostgreSQL). By username only: behind the proxy every client
# may share one address, and Keycloak's own brute-force protection guards its logins.
INSTALLED_APPS.append("axes")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username at once
    "ticketing.auth.backends.LocalLoginGate",
    *AUTHENTICATION_BACKENDS,
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # then it may try again
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 warns about lockouts that a rotated User-Agent or cookie escapes; a username lock
# has no such key, and an address lock would shut out every client behind the proxy at once.
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "axes.W006"]
AXES_RESET_ON_SUCCESS = True

# --- Metrics (issue 17) ---------------------------------------------------------------------
# Prometheus metrics (shared/metrics.py). First in line, so request latency includes the other
# middleware; web and ws serve /metrics to loopback callers, each Celery worker and beat on
# METRICS_PORT (none: not exported), which infrastructure/Procfile sets per process.
MIDDLEWARE.insert(0, "ticketing.metrics.RequestMetricsMiddleware")
METRICS_PORT = int(env("METRICS_PORT", default="") or 0) or None
