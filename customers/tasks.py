from celery import shared_task

from .models import Segment
from .services import segment_refresh


@shared_task
def segment_refresh_task(segment_id: int) -> int:
    """Recompute one segment's membership; returns its new size."""
    if not Segment.objects.filter(pk=segment_id).exists():
        return 0  # deleted after the refresh was asked for: nothing to do
    return segment_refresh(segment_id=segment_id).member_count


@shared_task
def segments_refresh_all_task() -> int:
    """The scheduled refresh: one task per active segment, so one slow segment delays no other."""
    ids = list(Segment.objects.filter(is_active=True).values_list("pk", flat=True))
    for segment_id in ids:
        segment_refresh_task.delay(segment_id)
    return len(ids)
