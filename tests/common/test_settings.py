"""Settings are parsed strictly: a production start without a secret key refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_production_without_secret_key_refuses_to_start_and_says_why():
    result = _check({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_start_needs_no_configuration():
    assert _check({"DJANGO_DEBUG": "true"}).returncode == 0


def test_bad_admin_url_template_is_refused():
    result = _check({"DJANGO_SECRET_KEY": "k", "SHOPIFY_ADMIN_URL_TEMPLATE": "https://example/graphql.json"})
    assert result.returncode != 0 and "SHOPIFY_ADMIN_URL_TEMPLATE" in result.stderr


def test_malformed_boolean_is_refused():
    result = _check({"DJANGO_SECRET_KEY": "k", "DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
