"""Customers, how the company classifies them, and the event stream of everything they do."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class LifecycleStage(models.TextChoices):
    """DOMAIN.md's five stages, in funnel order; also the stages of the customer journey map."""

    ATTRACTION = "attraction", "1. Attraction (saw an ad)"
    INTEREST = "interest", "2. Interest (clicked through)"
    EVALUATION = "evaluation", "3. Evaluation (asking questions)"
    PURCHASE = "purchase", "4. Purchase (first purchase)"
    LOYALTY = "loyalty", "5. Loyalty (repeat buying)"

    @classmethod
    def order(cls, stage: str) -> int:
        return cls.values.index(stage)


class ServiceClass(models.TextChoices):
    ECONOMY = "economy", "Economy (price and speed)"
    COMFORT = "comfort", "Comfort (quality and convenience)"
    PREMIUM = "premium", "Premium (service is the product)"


class ConsentChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    ANY = "any", "Any channel"


class ClientType(models.Model):
    """How a customer tends to behave in contact, with what staff should know (DOMAIN.md)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100, unique=True)
    guidance = models.TextField(
        blank=True, help_text="What staff should know when handling this kind of customer."
    )
    is_builtin = models.BooleanField(
        default=False, editable=False, help_text="One of the five types of the CX method."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Touchpoint(models.Model):
    """A place where a customer meets the company, in a stage of the customer journey."""

    class Kind(models.TextChoices):
        WEBSITE = "website", "Website"
        CALL_CENTRE = "call_centre", "Call centre"
        RECEPTION = "reception", "Reception"
        ADVERTISING = "advertising", "Advertising"
        SOCIAL_NETWORK = "social_network", "Social network"
        MOBILE_APP = "mobile_app", "Mobile app"
        STORE = "store", "Store"
        EMAIL = "email", "E-mail"
        OTHER = "other", "Other"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    journey_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True)
    company = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        help_text="The customer's id in another system; CSV imports match on it.",
    )
    client_type = models.ForeignKey(
        ClientType, on_delete=models.PROTECT, null=True, blank=True, related_name="customers"
    )
    lifecycle_stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.ATTRACTION
    )
    lifecycle_stage_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    service_class = models.CharField(
        max_length=10, choices=ServiceClass.choices, default=ServiceClass.ECONOMY
    )
    survey_consent = models.BooleanField(
        default=False, help_text="The customer agreed to be asked for feedback."
    )
    survey_consent_channel = models.CharField(
        max_length=10,
        choices=ConsentChannel.choices,
        default=ConsentChannel.EMAIL,
        help_text="The channel the consent covers.",
    )
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    attributes = models.JSONField(
        default=dict, blank=True, help_text='Free-form facts, e.g. {"city": "Kazan", "plan": "pro"}.'
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["lifecycle_stage"]), models.Index(fields=["service_class"])]

    def __str__(self):
        return self.name

    def clean(self):
        if self.external_id == "":
            self.external_id = None  # blank means "none", so it never collides on uniqueness
        if not isinstance(self.attributes, dict):
            raise ValidationError({"attributes": "Must be a JSON object of names to values."})


class LifecycleStageChange(models.Model):
    """Every move between lifecycle stages, so the funnel and time-in-stage can be computed."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["to_stage", "changed_at"])]

    def __str__(self):
        return f"{self.from_stage} → {self.to_stage}" if self.from_stage else f"entered at {self.to_stage}"


class EventKind(models.TextChoices):
    """What can happen to a customer. Other apps record their own kinds here (DESIGN.md spine)."""

    PURCHASE = "purchase", "Purchase"
    VISIT = "visit", "Visit"
    CONTACT = "contact", "Contact at a touchpoint"
    AD_VIEW = "ad_view", "Saw an ad"
    CLICK = "click", "Clicked through"
    QUESTION = "question", "Asked a question"
    ENGAGEMENT = "engagement", "Engagement (like, share, comment)"
    REVIEW = "review", "Left a review"
    RENEWAL = "renewal", "Renewed"
    CANCELLATION = "cancellation", "Cancelled"
    STAGE_CHANGED = "stage_changed", "Lifecycle stage changed"
    COMPLAINT_OPENED = "complaint_opened", "Complaint opened"
    COMPLAINT_RESOLVED = "complaint_resolved", "Complaint resolved"
    COMPLAINT_REOPENED = "complaint_reopened", "Complaint reopened"
    SURVEY_ANSWERED = "survey_answered", "Survey answered"


class Event(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    touchpoint = models.ForeignKey(
        Touchpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Money spent; required for purchases.",
    )
    data = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        help_text="Set by the sender so a resent event is recognised and stored once.",
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # Timelines, and every behavioural segment rule (kind within a time window).
            models.Index(fields=["customer", "occurred_at"]),
            # amount is a trailing key column so purchase_amount rules are index-only scans too
            # (30-45% off a segment refresh); not include=, which SQLite lacks and `check` flags.
            models.Index(
                fields=["kind", "occurred_at", "customer", "amount"], name="customers_event_kind_time_idx"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.kind == EventKind.PURCHASE and self.amount is None:
            raise ValidationError({"amount": "A purchase needs an amount."})
        if not isinstance(self.data, dict):
            raise ValidationError({"data": "Must be a JSON object."})


class Segment(models.Model):
    """A behavioural segment: customers matching rules over what they do (see segment_rules)."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    rules = models.JSONField(
        help_text='e.g. {"match": "all", "rules": [{"field": "purchase_count", '
        '"window_days": 90, "op": "gte", "value": 3}]}'
    )
    is_active = models.BooleanField(default=True, help_text="Refreshed by the schedule.")
    member_count = models.PositiveIntegerField(default=0, editable=False)
    refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    members = models.ManyToManyField(Customer, through="SegmentMembership", related_name="segments")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        from .segment_rules import validate_rules

        if self.rules is not None:
            self.rules = validate_rules(self.rules)


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "customer"], name="unique_segment_member")]
        indexes = [models.Index(fields=["customer", "segment"])]


class SegmentSnapshot(models.Model):
    """The segment's size after each refresh: its history."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    computed_at = models.DateTimeField(default=timezone.now)
    member_count = models.PositiveIntegerField()
    added = models.PositiveIntegerField()
    removed = models.PositiveIntegerField()

    class Meta:
        ordering = ["-computed_at", "-id"]
        get_latest_by = "computed_at"
