"""Template tags of Paperboy's admin: the morning dashboard on the admin home page."""

from __future__ import annotations

from django import template

from newsletter.dashboard import morning_dashboard

register = template.Library()


@register.inclusion_tag("admin/newsletter/dashboard.html", takes_context=True)
def paperboy_dashboard(context: template.Context) -> dict[str, object]:
    request = context.get("request")
    user = getattr(request, "user", None)
    # Subscriber numbers are for people who may see subscribers.
    if user is None or not user.has_perm("newsletter.view_subscriber"):
        return {"dashboard": None}
    return {"dashboard": morning_dashboard()}
