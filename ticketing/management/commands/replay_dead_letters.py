"""``manage.py replay_dead_letters --queue bookings``: send dead letters back to their queue.

Fix what made them die first (a deploy, a missing task); a message that is still poison
returns to the dead-letter queue after its delivery limit.
"""

from django.core.management.base import BaseCommand

from ticketing.broker import DEAD_LETTERED, dead_letter_counts, replay_dead_letters


class Command(BaseCommand):
    help = "Move messages from <queue>.dlq back to <queue>."

    def add_arguments(self, parser):
        parser.add_argument("--queue", required=True, choices=DEAD_LETTERED)
        parser.add_argument("--limit", type=int, default=None, help="at most this many")

    def handle(self, *args, queue, limit, **options):
        replayed = replay_dead_letters(queue, limit=limit)
        left = dead_letter_counts()[queue]
        self.stdout.write(
            f"replayed {replayed} dead letters to {queue}; {left} left in {queue}.dlq"
        )
