"""The public survey page (/s/<token>/) and the unsubscribe page."""

from django.http import HttpResponse


def survey_page(request, token):
    return HttpResponse("survey page: being built", status=501)


def unsubscribe_page(request, token):
    return HttpResponse("unsubscribe page: being built", status=501)
