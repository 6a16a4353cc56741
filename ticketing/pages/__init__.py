"""The buyer's HTML pages: the event list and the event page with its interactive seat map."""
