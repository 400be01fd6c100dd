"""Small template helpers for the desk."""
from django import template
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "")


@register.simple_tag
def sla_badge(sla):
    """A coloured countdown to the nearest deadline; the script keeps it ticking."""
    if not sla:
        return ""
    if sla["state"] == "paused":
        return format_html('<span class="sla sla-paused">{}</span>', _("paused"))
    due = sla["due"]
    if sla["state"] == "breached":
        text = _("%(time)s overdue") % {"time": timesince(due, depth=1)}
    else:
        text = _("in %(time)s") % {"time": timeuntil(due, depth=1)}
    return format_html(
        '<time class="sla sla-{}" datetime="{}" data-due="{}" title="{}">{}</time>',
        sla["state"], due.isoformat(), due.isoformat(), due.strftime("%Y-%m-%d %H:%M %Z"), text,
    )


@register.simple_tag
def posted_value(posted, action, name, default=""):
    """What the agent typed into `name` of the `action` form, if that form was just refused; else `default`."""
    data = posted.get(action)
    if data is not None and name in data:
        return data.get(name)
    return default
