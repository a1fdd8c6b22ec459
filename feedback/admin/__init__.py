"""The feedback app in the admin (the staff UI).

item: the support desk (the list, logging an item, and the item's page: SLA clocks, reply box,
workflow, conversation, attachments, history), with item_form (saved through the services) and
item_panel (what the page shows read-only); calendar and policy: what a CX lead sets up.
"""

from . import calendar, item, policy  # noqa: F401
