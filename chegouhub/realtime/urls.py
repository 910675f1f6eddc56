from django.urls import path

from . import views

urlpatterns = [
    path("events/", views.EventsView.as_view()),
    path("status/", views.StatusView.as_view()),
]
