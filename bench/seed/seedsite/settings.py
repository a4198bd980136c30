"""The least Django needs to serve the seed's views: no database, no apps, no middleware.
`runserver` serves the sync views; `asgi.py` switches to the async ones."""
SECRET_KEY = "benchmark-fixture-only"
DEBUG = False
# The servers listen on 127.0.0.1 only, and the fan-out client names no real host.
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "seedsite.urls_sync"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
