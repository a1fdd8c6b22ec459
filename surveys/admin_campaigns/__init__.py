"""The CX lead's campaign desk in the admin (imported at the end of surveys/admin.py).

campaign: the list, the change page with its dry run, launch, stop and live funnel; form: the
campaign form, saved through services.campaign_save; ledger: the records campaigns leave
(invitations, responses, opt-outs, read-only) and the global contact policy.
"""

from . import campaign, ledger  # noqa: F401
