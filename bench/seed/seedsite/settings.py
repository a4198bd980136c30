"""The least Django needs to serve the seed's views: no apps, no middleware, and a database only
when `SEED_DATABASE` names one (`postgres://USER@HOST:PORT/DB`, as our servers' `--database`).
`runserver` serves the sync views; `asgi.py` switches to the async ones."""
import os
from urllib.parse import urlsplit

SECRET_KEY = "benchmark-fixture-only"
DEBUG = False
# The servers listen on 127.0.0.1 only, and the fan-out client names no real host.
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "seedsite.urls_sync"
INSTALLED_APPS = []
MIDDLEWARE = []
USE_TZ = True

DATABASES = {}
if os.environ.get("SEED_DATABASE"):
    url = urlsplit(os.environ["SEED_DATABASE"])
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.hostname,
        "PORT": url.port or 5432,
        # Persistent connections (Django's default, 0, opens one per request): what a pool
        # would keep, and what the measured Django ran with.
        "CONN_MAX_AGE": 600,
    }
