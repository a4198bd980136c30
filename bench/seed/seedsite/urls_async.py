from django.urls import path

from . import views

urlpatterns = [
    path("sleep", views.AsyncSleep.as_view()),
    path("nosleep", views.AsyncNoSleep.as_view()),
    path("query", views.AsyncQuery.as_view()),
]
