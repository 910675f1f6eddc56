"""A new password or a deactivation revokes the user's API token; a logout does not (CONTRACT
section 8); the sockets' side is tests/realtime/test_revocation.py."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

PASSWORD = "senha-forte-123"


def _token_works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/lojas/").status_code == 200


def test_dashboard_logout_keeps_the_users_api_token(user):
    """Issue 26 item 4: logging out of the dashboard must not stop the restockers that use the API."""
    key = Token.objects.create(user=user).key
    client = Client()
    assert client.post("/entrar/", {"username": "ana", "password": PASSWORD}).status_code == 302
    assert client.post("/sair/").status_code == 302
    assert client.get("/api/lojas/").status_code in (401, 403)  # the session did end
    assert _token_works(key)


def test_a_password_changed_in_the_admin_revokes_the_token(user):
    get_user_model().objects.create_superuser("chefe", password=PASSWORD)
    key = Token.objects.create(user=user).key
    admin = Client()
    admin.force_login(get_user_model().objects.get(username="chefe"))
    r = admin.post(f"/admin/auth/user/{user.pk}/password/",
                   {"password1": "nova-senha-789", "password2": "nova-senha-789", "usable_password": "true"})
    assert r.status_code == 302, r.content
    assert not _token_works(key)


def test_deactivation_revokes_the_token(user):
    key = Token.objects.create(user=user).key
    user.is_active = False
    user.save()
    assert not Token.objects.filter(key=key).exists()


def test_a_login_that_only_rehashes_the_password_keeps_the_token(user, settings):
    """Django re-hashes a stored password when its hasher's iterations grew: same password, no revocation."""
    key = Token.objects.create(user=user).key
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    old_hash = get_user_model().objects.get(pk=user.pk).password
    r = APIClient().post("/api/auth/token/", {"username": "ana", "password": PASSWORD}, format="json")
    assert r.status_code == 200 and r.json()["token"] == key
    assert get_user_model().objects.get(pk=user.pk).password != old_hash  # it was re-hashed
    assert _token_works(key)


def test_saving_a_user_for_other_reasons_keeps_the_token(user):
    key = Token.objects.create(user=user).key
    user.first_name = "Ana"
    user.save()
    assert _token_works(key)


def test_a_password_or_deactivation_written_without_save_revokes_the_token(user, other_user):
    """CONTRACT 8: by any means, a queryset `update` or SQL included (signals never see those)."""
    from django.db import connection

    key = Token.objects.create(user=user).key
    with connection.cursor() as cursor:
        cursor.execute("UPDATE auth_user SET password = %s WHERE id = %s", ["!trocada-por-sql", user.pk])
    assert not _token_works(key)
    other_key = Token.objects.create(user=other_user).key
    get_user_model().objects.filter(pk=other_user.pk).update(is_active=False)
    assert not Token.objects.filter(key=other_key).exists()
    get_user_model().objects.filter(pk=other_user.pk).update(is_active=True)  # reactivated: no old token back
    assert not _token_works(other_key)
