"""The ASGI application plus static files, for processes that run without nginx in front.

The browser tests and the seat-map benchmark start one uvicorn serving HTTP, WebSockets and
``/static/`` (found by the staticfiles finders, no collectstatic needed) on one port. Production
and ``make run`` use ``ticketing.asgi`` behind nginx, which serves ``/static/`` itself.
"""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from ticketing.asgi import application as _application

application = ASGIStaticFilesHandler(_application)
