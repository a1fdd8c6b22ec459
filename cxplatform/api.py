"""What every app's API shares: the router, pagination, the JSON error format and token login."""

from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django_filters import BooleanFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

router = DefaultRouter()


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, strict about yes/no filters.

    django-filter reads any value but true/false/1/0 for a BooleanFilter as "not given", so
    `?survey_consent=yes` listed every customer, consenting or not; here it is a 400 naming it.
    """

    boolean_values = frozenset({"true", "false", "1", "0", ""})

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            errors = {
                name: [f'Must be true or false, not "{value}".']
                for name, flt in filterset.filters.items()
                if isinstance(flt, BooleanFilter)
                for value in filterset.data.getlist(name)
                if value.lower() not in self.boolean_values
            }
            if errors:
                raise ValidationError(errors)
        return filterset


def exception_handler(exc, context):
    """DRF's handler, plus the errors our services raise, so bad input is a 400 naming the field."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = ValidationError(detail)
    elif isinstance(exc, ProtectedError):
        names = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        return Response(
            {"detail": f"Still in use by {', '.join(names)}; reassign or remove those first."},
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)


# --- Login lockout (django-axes) on the API ----------------------------------------------------


class LoginLockedOut(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS  # what axes answers on the admin login too
    default_code = "locked_out"

    def __init__(self, wait_seconds: int | None):
        minutes = f"{max(1, round(wait_seconds / 60))} minutes" if wait_seconds else "good"
        super().__init__(
            f"Too many failed login attempts: this login is locked for {minutes} from this address. "
            "Try again later or ask an admin to unlock it."
        )
        self.wait = wait_seconds  # DRF's handler turns it into a Retry-After header


def raise_lockout_on_api_login(sender, request, **kwargs) -> None:
    """Receiver of axes' `user_locked_out`: an API login that is (or just got) locked out fails with
    a 429 naming the cause.

    Axes flags a lockout on the request object it is given and its middleware turns the flag into
    the lockout page; an API login hands it DRF's Request wrapper, which the middleware never sees,
    so without this the caller only reads "Unable to log in" even with the right password.
    """
    if isinstance(request, Request):
        cool_off = get_cool_off(request)
        raise LoginLockedOut(int(cool_off.total_seconds()) if cool_off else None)


class TokenLoginView(ObtainAuthToken):
    """POST username and password, get the user's API token.

    DRF's view never "logs in", so Django's `user_logged_in` was not sent: axes did not start the
    failure count again on success (AXES_RESET_ON_SUCCESS) and last_login stayed empty.
    """

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        user_logged_in.send(sender=type(user), request=request, user=user)
        return Response({"token": token.key})
