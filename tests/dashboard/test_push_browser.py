""""Ativar notificações" in a real Chromium when it cannot work: each failure told in Portuguese, within
a deadline, and nothing saved. Headless Chromium has no push service: with the notifications permission
granted its pushManager.subscribe() rejects with the English "Registration failed - permission denied"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chegouhub.push.models import Inscricao

from .conftest import FAST_CLIENT, login

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.postgres]

ENGLISH = re.compile(r"Registration|failed|denied|Error|push service", re.IGNORECASE)

# A push service that never answers (a network that drops it): the browser's subscribe() hangs.
HANGING_PUSH_SERVICE = "PushManager.prototype.subscribe = () => new Promise(() => {});"
# A push service the browser cannot reach: Chromium's own rejection.
UNREACHABLE_PUSH_SERVICE = """PushManager.prototype.subscribe = () => Promise.reject(
  new DOMException("Registration failed - push service not available", "AbortError"));"""
SHORT_DEADLINE = "window.__CHEGOUHUB_PUSH__ = {timeoutMs: 1500};"


def open_dashboard(demo, page_factory, *, grant: bool, scripts: tuple[str, ...] = ()):
    page = page_factory(init_scripts=(FAST_CLIENT, *scripts))
    if grant:
        page.context.grant_permissions(["notifications"], origin=demo.server.url)
    login(page, demo.server)
    section = page.locator("#notificacoes")
    expect(section.locator("#push-estado")).to_have_attribute("data-estado", "desativadas")
    return page, section


def test_denied_permission_is_explained_in_portuguese(demo, page_factory):
    # Not granted: Chromium answers the prompt with "denied".
    page, section = open_dashboard(demo, page_factory, grant=False)
    section.get_by_role("button", name="Ativar notificações").click()
    estado = section.locator("#push-estado")
    expect(estado).to_contain_text("O navegador negou a permissão de notificações para este site")
    expect(estado).to_contain_text("configurações do site")

    # Granted, but the browser's push registration refuses ("Registration failed - permission denied").
    page, section = open_dashboard(demo, page_factory, grant=True)
    section.get_by_role("button", name="Ativar notificações").click()
    estado = section.locator("#push-estado")
    expect(estado).to_have_text(re.compile(r"^Não foi possível ativar\. O navegador negou a permissão"))
    assert not ENGLISH.search(estado.inner_text()), estado.inner_text()
    expect(section.get_by_role("button", name="Ativar notificações")).to_be_enabled()
    assert Inscricao.objects.count() == 0


def test_a_push_service_that_never_answers_times_out_with_a_message(demo, page_factory):
    page, section = open_dashboard(demo, page_factory, grant=True, scripts=(SHORT_DEADLINE, HANGING_PUSH_SERVICE))
    section.get_by_role("button", name="Ativar notificações").click()
    estado = section.locator("#push-estado")
    expect(estado).to_have_text("Ativando…")
    expect(estado).to_contain_text("não respondeu em 2 segundos", timeout=5000)
    expect(estado).to_contain_text("nada foi salvo")
    expect(section.get_by_role("button", name="Ativar notificações")).to_be_enabled()
    assert Inscricao.objects.count() == 0


def test_an_unreachable_push_service_is_explained_in_portuguese(demo, page_factory):
    page, section = open_dashboard(demo, page_factory, grant=True, scripts=(UNREACHABLE_PUSH_SERVICE,))
    section.get_by_role("button", name="Ativar notificações").click()
    estado = section.locator("#push-estado")
    expect(estado).to_contain_text("O serviço de notificações do navegador está inacessível")
    assert not ENGLISH.search(estado.inner_text()), estado.inner_text()


def test_a_browser_without_push_says_so_in_portuguese(demo, page_factory):
    page = page_factory(init_scripts=(FAST_CLIENT, "delete window.PushManager;"))
    login(page, demo.server)
    section = page.locator("#notificacoes")
    estado = section.locator("#push-estado")
    expect(estado).to_have_attribute("data-estado", "nao_suportadas")
    expect(estado).to_contain_text("Não suportadas neste navegador: use o Chrome")
    expect(section.get_by_role("button", name="Ativar notificações")).to_be_disabled()
