"""Campaign writes: save, launch, build the invitations of a run, stop."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from customers.models import Event

from ..models import Campaign, Invitation, InvitationStatus, Survey
from ..selectors import campaign_audience, has_audience_criteria
from .building import invitations_build, invitations_build_triggered

CAMPAIGN_FIELDS = (
    "name",
    "survey",
    "kind",
    "channel",
    "everyone",
    "lifecycle_stages",
    "service_classes",
    "send_at",
    "repeat_every_days",
    "trigger_event_kind",
    "trigger_delay_minutes",
    "quarantine_days",
    "defer_held_back",
    "reminder_count",
    "reminder_every_days",
    "expires_after_days",
    "email_subject",
)
AUDIENCE_LISTS = ("segments", "client_types", "customers")
# What a campaign is, fixed once launched: its invitations and answers refer to these.
FIXED_WHEN_LIVE = ("survey", "kind", "channel")
# Events can commit a little after their recorded_at; look back this far on every scan (the
# unique invitation per event makes a second look harmless).
TRIGGER_LOOKBACK = timedelta(minutes=10)


@transaction.atomic
def campaign_save(*, campaign: Campaign | None = None, data: dict, by=None) -> Campaign:
    """Create or edit a campaign; the lists (segments, client_types, customers) are replaced
    when given. A finished campaign is kept as it ran."""
    if campaign is not None and campaign.pk:
        # Start from the stored row, not the caller's copy: the run state (status, runs, next run)
        # may have moved on in a worker since the copy was read, and must not be written back.
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    stored = campaign
    campaign = campaign or Campaign(created_by=by)
    if campaign.status == Campaign.Status.FINISHED:
        raise ValidationError({"status": "A finished campaign cannot be changed; copy it instead."})
    if stored is not None and campaign.status != Campaign.Status.DRAFT:
        changed = [
            name
            for name in FIXED_WHEN_LIVE
            if name in data and _value(data[name]) != _value(getattr(stored, name))
        ]
        if changed:
            raise ValidationError(
                {
                    name: "Fixed once the campaign is launched; its invitations refer to it."
                    for name in changed
                }
            )
    for name in CAMPAIGN_FIELDS:
        if name in data:
            setattr(campaign, name, data[name])
    campaign.full_clean()
    if campaign.status == Campaign.Status.SCHEDULED and "send_at" in data:
        # A new time for a run that has not started yet (a past one: as soon as the sweep looks).
        campaign.next_run_at = campaign.send_at or timezone.now()
    campaign.save()
    for name in AUDIENCE_LISTS:
        if name in data:
            getattr(campaign, name).set(data[name])
    return campaign


def _value(value):
    return getattr(value, "pk", value)


@transaction.atomic
def campaign_launch(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Start the campaign: now, at its time, on its schedule, or on its events."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise ValidationError({"status": f"The campaign is already {campaign.get_status_display().lower()}."})
    if campaign.survey.status != Survey.Status.ACTIVE:
        raise ValidationError({"survey": "Make the survey active before launching a campaign with it."})
    if campaign.channel == Campaign.Channel.EMAIL:
        if not has_audience_criteria(campaign):
            raise ValidationError(
                {
                    "audience": "Choose an audience: segments, client types, stages, service classes, "
                    "customers, or everyone."
                }
            )
        if campaign.kind != Campaign.Kind.EVENT_TRIGGERED and not campaign_audience(campaign).exists():
            raise ValidationError({"audience": "The audience is empty: no customer matches its criteria."})
    campaign.launched_at = now
    if campaign.channel == Campaign.Channel.LINK or campaign.kind == Campaign.Kind.EVENT_TRIGGERED:
        campaign.status = Campaign.Status.RUNNING
        campaign.events_seen_until = now  # only events from the launch on trigger a survey
    else:
        start = max(campaign.send_at or now, now)
        campaign.next_run_at = start
        campaign.status = Campaign.Status.SCHEDULED if start > now else Campaign.Status.RUNNING
    campaign.save()
    if campaign.next_run_at and campaign.next_run_at <= now:
        from ..tasks import campaign_run_task

        campaign_id = campaign.pk
        transaction.on_commit(lambda: campaign_run_task.delay(campaign_id))
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign never launched; a launched one keeps its ledger and answers (stop it)."""
    # Locked so a launch at the same moment cannot slip between the check and the delete.
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.launched_at is not None:
        raise ProtectedError(
            f"The campaign was launched ({campaign.get_status_display().lower()} now) and its "
            "invitations and answers are on record; stop it instead of deleting it.",
            {campaign},
        )
    campaign.delete()


@transaction.atomic
def campaign_stop(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Finish the campaign: nothing more is sent; what was sent can still be answered."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.Status.FINISHED:
        return campaign
    if campaign.status == Campaign.Status.DRAFT:
        raise ValidationError({"status": "The campaign was never launched: delete it instead."})
    Invitation.objects.filter(campaign=campaign, status=InvitationStatus.QUEUED).update(
        status=InvitationStatus.CANCELLED, cancelled_at=now
    )
    Invitation.objects.filter(campaign=campaign).update(next_reminder_at=None)
    campaign.status = Campaign.Status.FINISHED
    campaign.finished_at = now
    campaign.next_run_at = None
    campaign.save()
    return campaign


def campaign_run(*, campaign_id: int, now: datetime | None = None) -> int:
    """Build the invitations of the campaign's run that is due (a one-off, or the next wave of a
    recurring campaign); returns how many were made. Running it twice builds nothing twice."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if (
            campaign is None
            or not campaign.is_live
            or campaign.next_run_at is None
            or campaign.next_run_at > now
        ):
            return 0
        campaign.runs += 1
        campaign.status = Campaign.Status.RUNNING
        if campaign.kind == Campaign.Kind.RECURRING:
            step = timedelta(days=campaign.repeat_every_days)
            while campaign.next_run_at <= now:  # after downtime, the next run, not a burst of them
                campaign.next_run_at += step
        else:
            campaign.next_run_at = None
        campaign.save(update_fields=["runs", "status", "next_run_at"])
        return invitations_build(
            campaign=campaign, customers=campaign_audience(campaign), wave=campaign.runs, now=now
        )


def campaign_scan_events(*, campaign_id: int, now: datetime | None = None) -> int:
    """Event-triggered: one invitation per new triggering event of a customer in the audience."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.RUNNING or not campaign.trigger_event_kind:
            return 0
        since = (campaign.events_seen_until or campaign.launched_at or now) - TRIGGER_LOOKBACK
        events = Event.objects.filter(
            kind=campaign.trigger_event_kind,
            recorded_at__gt=since,
            recorded_at__lte=now,
            occurred_at__gte=campaign.launched_at,  # what happened before the launch does not count
            customer__in=campaign_audience(campaign),
        )
        made = invitations_build_triggered(campaign=campaign, events=events, now=now)
        campaign.events_seen_until = now
        campaign.save(update_fields=["events_seen_until"])
        return made
