"""``manage.py declare_broker``: declare RabbitMQ's exchanges, queues and bindings now.

Workers and beat declare them when they start (ticketing/celery.py); this runs the same
declaration for a deploy step or after the broker lost its definitions.
"""

from django.core.management.base import BaseCommand

from ticketing.broker import declare_topology
from ticketing.celery import app


class Command(BaseCommand):
    help = "Declare every RabbitMQ exchange, queue and binding the processes use."

    def handle(self, *args, **options):
        declare_topology(app)
        self.stdout.write("broker topology declared")
