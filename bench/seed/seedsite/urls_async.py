from django.urls import path

from . import views

urlpatterns = [
    path("sleep", views.AsyncSleep.as_view()),
    path("nosleep", views.AsyncNoSleep.as_view()),
    path("query", views.AsyncQuery.as_view()),
    path("fetch", views.AsyncFetch.as_view()),
    path("compute", views.AsyncCompute.as_view()),
    path("block", views.AsyncBlock.as_view()),
]
