"""Celery's side of the structured logs (shared/logs.py): the trace id rides in a message
header from the publisher to the task, and Celery leaves the logging to Django's ``LOGGING``.

Connected by importing this module from ``ticketing/celery.py``.
"""

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from shared.logs import TRACE_ID, bind_trace_id, current_trace_id, unbind_trace_id


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """With a receiver here Celery installs no handlers of its own (nor redirects stdout), so
    its records and ours reach the JSON handler of Django's LOGGING, at ``LOG_LEVEL``."""
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@before_task_publish.connect
def put_trace_id_on_message(headers: dict, **kwargs) -> None:
    """A task published while a trace id is bound carries it, unless the publisher named one
    (the outbox relay sends each row's own)."""
    trace_id = current_trace_id()
    if trace_id:
        headers.setdefault(TRACE_ID, trace_id)


@task_prerun.connect
def bind_trace_id_of_task(task, **kwargs) -> None:
    # Custom message headers become attributes of the task's request.
    bind_trace_id(getattr(task.request, TRACE_ID, None))


@task_postrun.connect
def unbind_trace_id_of_task(**kwargs) -> None:
    unbind_trace_id()  # pool threads run many tasks: the next one must not inherit it
