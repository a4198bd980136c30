"""The same settings, with the async views."""
from .settings import *  # noqa: F403

ROOT_URLCONF = "seedsite.urls_async"
