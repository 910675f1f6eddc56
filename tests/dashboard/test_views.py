"""The dashboard's server side: login, tenant isolation, the first frame's data, static files."""

from __future__ import annotations

import json

import pytest

from chegouhub.devtools.payloads import order_payload
from chegouhub.realtime.models import Event

pytestmark = [pytest.mark.django_db]


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="painel-config" type="application/json">') + len(
        '<script id="painel-config" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_anonymous_gets_the_login_form_with_csrf(client):
    r = client.get("/")
    assert r.status_code == 200
    body = r.content.decode()
    assert 'action="/entrar/"' in body and "csrfmiddlewaretoken" in body
    assert '<label for="id_username">Usuário</label>' in body
    assert "default-src 'self'" in r["Content-Security-Policy"]


def test_login_form_logs_in_and_redirects_only_to_this_site(client, user):
    bad = client.post("/entrar/", {"username": "ana", "password": "errada"})
    assert bad.status_code == 400
    assert "Usuário ou senha inválidos" in bad.content.decode()
    ok = client.post("/entrar/", {"username": "ana", "password": "senha-forte-123", "next": "https://evil.example/"})
    assert ok.status_code == 302 and ok["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/sair/").status_code == 302
    assert 'action="/entrar/"' in client.get("/").content.decode()


def test_csrf_is_enforced_on_the_login_form(user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/entrar/", {"username": "ana", "password": "senha-forte-123"}).status_code == 403


def test_the_page_shows_only_the_users_lojas(client, user, other_user, make_loja, make_produto):
    mine = make_loja(user)
    theirs = make_loja(other_user)
    make_produto(mine, "MEU-SKU", estoque=1, minimo=3)
    make_produto(theirs, "SKU-ALHEIO")
    client.force_login(user)
    # asking for someone else's loja falls back to one of mine
    r = client.get(f"/produtos/?loja={theirs.pk}")
    body = r.content.decode()
    assert theirs.shop_domain not in body and "SKU-ALHEIO" not in body
    assert "MEU-SKU" in body and mine.shop_domain in body
    cfg = config_of(r)
    assert cfg["loja_id"] == mine.pk
    assert 'class="baixo"' in body
    assert client.get("/?loja=abc").status_code == 200
    # someone else's produto has no page here
    assert client.get(f"/produtos/{theirs.produtos.get().pk}/").status_code == 404


def test_the_cursor_and_recent_sales_come_from_the_event_log(client, user, loja, make_produto, post_webhook):
    make_produto(loja, "CAM-1", estoque=10, minimo=2)
    for n in range(3):
        assert post_webhook(loja, "orders/paid", order_payload(500 + n, [(1, "CAM-1", 1)])).status_code == 200
    client.force_login(user)
    cfg = config_of(client.get(f"/?loja={loja.pk}"))
    assert cfg["cursor"] == Event.objects.latest("id").id
    assert [v["data"]["order_id"] for v in cfg["vendas"]] == [502, 501, 500]
    assert all(v["type"] == "venda_shopify_processada" for v in cfg["vendas"])


def test_a_user_without_lojas_sees_how_to_start(client, user):
    client.force_login(user)
    body = client.get("/").content.decode()
    assert "Nenhuma loja ainda" in body


def test_static_files_are_served_with_etag_and_nothing_else_is(client):
    r = client.get("/painel/static/realtime.js")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/javascript")
    assert r["Cache-Control"] == "no-cache"
    again = client.get("/painel/static/realtime.js", HTTP_IF_NONE_MATCH=r["ETag"])
    assert again.status_code == 304
    assert client.get("/painel/static/painel.css")["Content-Type"].startswith("text/css")
    for path in ("../views.py", "..%2Fviews.py", "nada.js", "__init__.py"):
        assert client.get(f"/painel/static/{path}").status_code == 404


def test_untrusted_names_are_escaped(client, user, make_loja, make_produto):
    loja = make_loja(user)
    make_produto(loja, "XSS-1", nome='<img src=x onerror="alert(1)">')
    client.force_login(user)
    body = client.get("/produtos/").content.decode()
    assert '<img src=x onerror="alert(1)">' not in body
    assert "&lt;img src=x" in body


PAGES = ["/", "/produtos/", "/lojas/", "/depositos/", "/vendas/", "/notificacoes/", "/privacidade/", "/configuracoes/"]


def test_every_page_has_the_navigation_and_marks_its_own(client, user, loja):
    for url in PAGES:
        assert client.get(url).status_code == 200  # a visitor gets the login form at the page's address
        assert 'action="/entrar/"' in client.get(url).content.decode()
    client.force_login(user)
    for url in PAGES:
        body = client.get(url).content.decode()
        assert 'aria-label="Principal"' in body, url
        nav = body[body.index('aria-label="Principal"'):body.index("</nav>")]
        assert nav.count("<a ") == 8 and nav.count('aria-current="page"') == 1, url
        assert f'href="{url}?loja={loja.pk}" aria-current="page"' in nav, url


def test_a_visitor_logs_in_and_lands_on_the_page_asked_for(client, user):
    body = client.get("/depositos/").content.decode()
    assert 'name="next" value="/depositos/"' in body
    r = client.post("/entrar/", {"username": "ana", "password": "senha-forte-123", "next": "/depositos/"})
    assert r.status_code == 302 and r["Location"] == "/depositos/"


def test_produtos_are_searched_filtered_and_paginated_in_the_database(client, user, loja, make_produto):
    from chegouhub.inventory.models import Produto

    Produto.objects.bulk_create([Produto(loja=loja, deposito_id=loja.deposito_id, sku=f"SKU-{n:05d}",
                                         nome=f"Produto {n:05d}", estoque_atual=n % 7, estoque_minimo=2)
                                 for n in range(120)])
    client.force_login(user)
    first = client.get("/produtos/").content.decode()
    assert first.count("<tr data-produto-id=") == 50 and "Página 1 de 3" in first
    assert config_of(client.get("/produtos/"))["adicionar_novos"] is False
    last = client.get("/produtos/?pagina=3").content.decode()
    assert last.count("<tr data-produto-id=") == 20 and "SKU-00119" in last
    found = client.get("/produtos/?q=sku-0010").content.decode()
    assert found.count("<tr data-produto-id=") == 10 and "Página" not in found
    zerados = client.get("/produtos/?situacao=zerado").content.decode()
    assert zerados.count("<tr data-produto-id=") == 18  # n % 7 == 0 for 18 of 120
    baixos = client.get("/produtos/?situacao=baixo&q=SKU-0000").content.decode()
    assert baixos.count("<tr data-produto-id=") == 4  # SKU-00001, 00002, 00008, 00009 (1 or 2 in stock)
    assert "Nenhum produto encontrado." in client.get("/produtos/?q=nada-disso").content.decode()


def test_a_produtos_page_shows_its_stock_per_loja(client, user, loja, make_loja, make_produto):
    p = make_produto(loja, "CAM-1", estoque=10, minimo=2, nome="Camiseta")
    loja.sincronizar_estoque, loja.estoque_reserva = True, 3
    loja.save()
    client.force_login(user)
    body = client.get(f"/produtos/{p.pk}/").content.decode()
    assert "Camiseta" in body and f"{loja.nome}: a Shopify mostra até 7 (reserva de 3)" in body
    assert 'value="ajustar" checked' in body and 'value="definir"' in body


def test_sales_are_grouped_by_the_users_days_and_times_shown_in_their_zone(client, user, loja, make_produto,
                                                                          post_webhook):
    from datetime import datetime, timezone as dt_timezone

    from chegouhub.sales.models import ValorVenda

    make_produto(loja, "CAM-1", estoque=10)
    assert post_webhook(loja, "orders/paid", order_payload(700, [(1, "CAM-1", 1)], total=("10.00", "BRL"))).status_code == 200
    # 01:30 UTC is still the evening before in Brasília (UTC-3)
    late = datetime.now(dt_timezone.utc).replace(hour=1, minute=30, second=0, microsecond=0)
    ValorVenda.objects.update(ocorrido_em=late)
    client.force_login(user)
    utc = client.get("/api/vendas/resumo/?days=3&agrupar=dia").json()
    brt = client.get("/api/vendas/resumo/?days=3&agrupar=dia&fuso=America/Sao_Paulo").json()
    assert utc["moedas"][0]["serie"][0]["inicio"] == late.replace(hour=0, minute=0).isoformat()
    assert brt["moedas"][0]["serie"][0]["inicio"].endswith("T00:00:00-03:00")
    assert brt["moedas"][0]["serie"][0]["inicio"][:10] < late.date().isoformat()  # the day before
    bad = client.get("/api/vendas/resumo/?fuso=Lua/Base")
    assert bad.status_code == 400 and "fuso" in bad.json().get("campos", bad.json())

    # the zone is the user's, set in Configurações (Brasília by default), and the pages carry it
    assert config_of(client.get("/vendas/"))["fuso"] == "America/Sao_Paulo"
    assert client.post("/configuracoes/", {"fuso": "Lua/Base"}).status_code == 200
    r = client.post("/configuracoes/", {"fuso": "America/Manaus"})
    assert r.status_code == 302
    assert config_of(client.get("/vendas/"))["fuso"] == "America/Manaus"
    assert '<option value="America/Manaus" selected>' in client.get("/configuracoes/").content.decode()
