"""Hooks on Django's own auth events. A password can change and a user can be deactivated in
places this project does not own (the admin, `changepassword`, a shell), so the model's signals
are the one place every path goes through. They only detect the change and call an action."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import connection
from django.db.models.signals import post_delete, post_init, post_save, pre_save
from django.dispatch import receiver

from . import services

User = get_user_model()
_WATCHED = ("password", "is_active")


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    # Sent before the session is flushed: its key still names the sockets to close.
    session = getattr(request, "session", None)
    services.end_session(user_id=user.pk, session_key=getattr(session, "session_key", None))


@receiver(post_init, sender=User)
def _remember(sender, instance, **kwargs) -> None:
    instance._access_before = (instance.__dict__.get("password"), instance.__dict__.get("is_active"))


def _is_rehash(instance, update_fields) -> bool:
    # Django's login re-hash saves only the password, after clearing `_password` (the raw one).
    return update_fields is not None and set(update_fields) == {"password"} and instance._password is None


def _mark_rehash(on: bool) -> None:
    """Tell the database trigger (accounts migration 0001) that this password write is a re-hash."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('chegouhub.password_rehash', %s, false)", ["on" if on else "off"])


@receiver(pre_save, sender=User)
def _saving(sender, instance, update_fields=None, **kwargs) -> None:
    if _is_rehash(instance, update_fields):
        _mark_rehash(True)


@receiver(post_save, sender=User)
def _saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    if _is_rehash(instance, update_fields):
        _mark_rehash(False)
    before = getattr(instance, "_access_before", (None, None))
    instance._access_before = (instance.password, instance.is_active)
    if created or (update_fields is not None and not set(_WATCHED) & set(update_fields)):
        return  # a login's last_login update, say
    if before[1] and not instance.is_active:
        services.end_all_access(user_id=instance.pk, reason="deactivated")
    elif before[0] is not None and before[0] != instance.password and instance._password is not None:
        # `_password` (the raw one set_password keeps until save) tells a new password from the
        # rehash Django does on login when its hasher's iterations grew (same password, new hash).
        services.end_all_access(user_id=instance.pk, reason="password_changed")


@receiver(post_delete, sender=User)
def _deleted(sender, instance, **kwargs) -> None:
    services.end_all_access(user_id=instance.pk, reason="deleted")
