from django.core.management.base import BaseCommand

from sales.rebuild import rebuild_sales


class Command(BaseCommand):
    help = "Recompute the sales read tables from bookings, tickets and payments."

    def handle(self, *args, **options):
        events = rebuild_sales()
        self.stdout.write(f"sales figures rebuilt for {events} events")
