"""The ASGI application `uvicorn seedsite.asgi:application --workers 1` serves: the async views."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seedsite.settings_async")
application = get_asgi_application()
