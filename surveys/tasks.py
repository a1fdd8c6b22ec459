"""Celery tasks of the surveys app: each loads by id and calls a service (see services.sending for
why none of them waits on a countdown and why a lost or repeated task does no harm)."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def campaign_run_task(campaign_id: int) -> int:
    """Build the due run of a campaign and hand its invitations to the senders."""
    return services.campaign_run(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def invitations_send_task(invitation_ids: list[int]) -> dict:
    return services.invitations_send(invitation_ids=invitation_ids)


@shared_task(ignore_result=True)
def invitations_remind_task(reminders: list[list[int]]) -> dict:
    return services.invitations_remind(reminders=reminders)


@shared_task(ignore_result=True)
def survey_sweep_task() -> dict:
    """Every minute (beat): reconcile, expire, start due runs, hand out what is due."""
    return services.survey_sweep()
