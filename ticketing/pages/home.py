"""The landing page at ``/``: what is on sale now, a search box and the way to log in."""

from django.shortcuts import render

from ticketing.catalog import on_sale_now


def home(request):
    return render(request, "ticketing/home.html", {"events": on_sale_now(limit=6)})
