"""Movements carry their produto's depósito, so a depósito's history pages from one index.

A BEFORE INSERT trigger copies `inventory_produto.deposito_id` onto every new movement, whichever
path inserts it (the lean route's SQL, the ORM): one writer, no executor edited. A produto moved to
another depósito (a loja moved, stocksync.depositos.move_loja) takes its movements along: a trigger
on the produto's `deposito_id` (a rare operator action, through the (produto, id) index). Existing rows are
filled in batches of ids (short transactions, no long lock), then the indexes are built
CONCURRENTLY (the release still serving keeps writing).
"""

from django.db import migrations, models

BATCH = 50_000

TRIGGER = """
CREATE OR REPLACE FUNCTION inventory_movimentacao_set_deposito() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.deposito_id IS NULL THEN
    SELECT p.deposito_id INTO NEW.deposito_id FROM inventory_produto p WHERE p.id = NEW.produto_id;
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS movimentacao_set_deposito ON inventory_movimentacao;
CREATE TRIGGER movimentacao_set_deposito BEFORE INSERT ON inventory_movimentacao
  FOR EACH ROW EXECUTE FUNCTION inventory_movimentacao_set_deposito();

CREATE OR REPLACE FUNCTION inventory_produto_moves_movimentacoes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE inventory_movimentacao SET deposito_id = NEW.deposito_id WHERE produto_id = NEW.id;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS produto_moves_movimentacoes ON inventory_produto;
CREATE TRIGGER produto_moves_movimentacoes AFTER UPDATE OF deposito_id ON inventory_produto
  FOR EACH ROW WHEN (OLD.deposito_id IS DISTINCT FROM NEW.deposito_id)
  EXECUTE FUNCTION inventory_produto_moves_movimentacoes();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS produto_moves_movimentacoes ON inventory_produto;
DROP FUNCTION IF EXISTS inventory_produto_moves_movimentacoes();
DROP TRIGGER IF EXISTS movimentacao_set_deposito ON inventory_movimentacao;
DROP FUNCTION IF EXISTS inventory_movimentacao_set_deposito();
"""

INDEXES = [
    ("mov_deposito_id", "(deposito_id, id DESC)"),
    # Sales are most of the history and are found from the index above; the other origens are rare.
    ("mov_deposito_not_sale_id", "(deposito_id, id DESC) WHERE NOT (origem = 'shopify_pedido_pago')"),
]


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(TRIGGER)  # first: rows inserted while the backfill runs are filled by it
        cur.execute("SELECT COALESCE(max(id), 0) FROM inventory_movimentacao")
        top = cur.fetchone()[0]
        for start in range(0, top + 1, BATCH):
            cur.execute(
                "UPDATE inventory_movimentacao m SET deposito_id = p.deposito_id FROM inventory_produto p"
                " WHERE p.id = m.produto_id AND m.deposito_id IS NULL AND m.id > %s AND m.id <= %s",
                [start, start + BATCH],
            )
        for name, columns in INDEXES:
            cur.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON inventory_movimentacao {columns}")


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(DROP_TRIGGER)
        for name, _ in INDEXES:
            cur.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # batches commit one by one; CREATE INDEX CONCURRENTLY needs it

    dependencies = [
        ("inventory", "0007_movimentacao_loja_kept"),
        ("stores", "0005_deposito"),
    ]

    operations = [
        migrations.AddField(
            model_name="movimentacao",
            name="deposito",
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, editable=False, null=True,
                                    on_delete=models.deletion.DO_NOTHING, related_name="+", to="stores.deposito"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="movimentacao",
                                    index=models.Index(fields=["deposito", "-id"], name="mov_deposito_id")),
                migrations.AddIndex(model_name="movimentacao",
                                    index=models.Index(fields=["deposito", "-id"], name="mov_deposito_not_sale_id",
                                                       condition=~models.Q(origem="shopify_pedido_pago"))),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
