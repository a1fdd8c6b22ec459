"""Celery tasks of the feedback app: load by id, call a service."""

from celery import shared_task

from . import services


@shared_task
def sla_sweep_task() -> dict:
    return services.sla_sweep()


@shared_task
def notices_send_task(notice_ids: list[int]) -> int:
    return services.notices_send(notice_ids=notice_ids)


@shared_task
def items_retarget_task(policy_id: int | None = None, calendar_id: int | None = None) -> int:
    return services.items_retarget(policy_id=policy_id, calendar_id=calendar_id)


@shared_task
def reply_email_task(message_id: int) -> bool:
    return services.reply_email_send(message_id=message_id)
