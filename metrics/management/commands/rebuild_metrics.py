"""`manage.py rebuild_metrics`: recompute the daily metrics rollups from the whole event log."""
from django.core.management.base import BaseCommand
from tqdm import tqdm

from metrics import rollups


class Command(BaseCommand):
    help = "Recompute the daily metrics rollups of every day up to yesterday from tickets and events."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args, no_progress=False, **options):
        bar = tqdm(total=0, unit="day", desc="Rolling up", disable=no_progress, file=self.stderr._out)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        state = rollups.rebuild(progress=progress)
        bar.close()
        self.stdout.write(self.style.SUCCESS(
            f"Rolled up {state.first_day} to {state.until_day} (exclusive); events up to #{state.safe_event_id}."
        ))
