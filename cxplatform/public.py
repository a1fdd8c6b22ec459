"""What every public page shares (the survey page, the request-status page, the web form)."""

from functools import wraps


def public_page(referrer_policy: str = "no-referrer"):
    """Headers for a page whose address is a secret: not indexed, not cached, its address not sent
    on as a Referer. A page with a CSRF-protected form says `same-origin` instead: under
    `no-referrer` browsers post its form with `Origin: null`, which Django's CSRF check refuses;
    `same-origin` still sends nothing to any other site."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response["X-Robots-Tag"] = "noindex, nofollow"
            response["Referrer-Policy"] = referrer_policy
            response["Cache-Control"] = "no-store"
            return response

        return wrapped

    return decorate
