from django.urls import path

from . import views

urlpatterns = [
    path("sleep", views.SyncSleep.as_view()),
    path("nosleep", views.SyncNoSleep.as_view()),
    path("query", views.SyncQuery.as_view()),
    path("fetch", views.SyncFetch.as_view()),
    path("compute", views.SyncCompute.as_view()),
]
