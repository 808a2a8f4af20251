"""Forget a reader: delete their interactions, profiles and the reader itself."""

import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ...models import Reader
from ...tracking import forget_reader


class Command(BaseCommand):
    help = "Delete everything recorded about one reader (a user or a visitor id)."

    def add_arguments(self, parser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="Username of the reader.")
        who.add_argument("--visitor", help="Visitor id (the cookie's value).")
        who.add_argument("--reader", type=int, help="Reader id.")

    def handle(self, *args, **options) -> None:
        if options["reader"] is not None:
            readers = Reader.objects.filter(pk=options["reader"])
        elif options["visitor"]:
            try:
                readers = Reader.objects.filter(visitor_id=uuid.UUID(options["visitor"]))
            except ValueError as exc:
                raise CommandError(f"Not a visitor id: {options['visitor']!r}") from exc
        else:
            user_model = get_user_model()
            readers = Reader.objects.filter(
                **{f"user__{user_model.USERNAME_FIELD}": options["user"]}
            )
        reader = readers.first()
        if reader is None:
            who = next(f"--{k} {options[k]!r}" for k in ("reader", "visitor", "user") if options[k])
            raise CommandError(f"No reader for {who}; nothing to forget.")
        reader_id = reader.pk  # deleting clears it
        deleted = forget_reader(reader)
        self.stdout.write(f"Forgot reader {reader_id}: {deleted} rows deleted.")
