"""Webhook statistics kept as deliveries arrive (issue 31): daily counters maintained by triggers.

`shopify_delivery_count_keys` is the one place that says what a delivery counts for; the insert
and delete triggers (statement level: a lean batch of deliveries is one upsert per counter) and the
update trigger (row level, only when a counted column changes) apply +1/-1 through it, whichever
path writes the delivery (the lean route's SQL, the ORM). Existing deliveries are counted in the
same transaction that creates the triggers, under a SHARE lock on the deliveries table, so no
delivery is counted twice or missed; writes wait for it (about 10 s per million deliveries, see
docs/history.md).
"""

from django.db import migrations, models

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION shopify_delivery_count_keys(topic text, status text, unmapped jsonb, invalid jsonb)
RETURNS TABLE(kind text, key text) LANGUAGE sql IMMUTABLE AS $$
  SELECT 'status', status
  UNION ALL SELECT 'topic', topic
  UNION ALL SELECT CASE WHEN jsonb_typeof(s) = 'string' THEN 'sku' ELSE 'sem_sku' END,
                   CASE WHEN jsonb_typeof(s) = 'string' THEN s #>> '{}' ELSE '' END
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(unmapped) = 'array' THEN unmapped ELSE '[]' END) s
  UNION ALL SELECT 'motivo', COALESCE(CASE WHEN jsonb_typeof(l) = 'object' THEN l ->> 'motivo' END, '')
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(invalid) = 'array' THEN invalid ELSE '[]' END) l
$$;

CREATE OR REPLACE FUNCTION shopify_delivery_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO shopify_webhookdailycount AS c (loja_id, day, kind, key, shard, n)
  SELECT d.loja_id, (d.created_at AT TIME ZONE 'UTC')::date, k.kind, k.key, pg_backend_pid() % 8, count(*)
    FROM delivery_rows d
    CROSS JOIN LATERAL shopify_delivery_count_keys(d.topic, d.status, d.unmapped_skus, d.invalid_lines) k
   GROUP BY 1, 2, 3, 4
  ON CONFLICT (loja_id, day, kind, key, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION shopify_delivery_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO shopify_webhookdailycount AS c (loja_id, day, kind, key, shard, n)
  SELECT d.loja_id, (d.created_at AT TIME ZONE 'UTC')::date, k.kind, k.key, pg_backend_pid() % 8, -count(*)
    FROM delivery_rows d
    CROSS JOIN LATERAL shopify_delivery_count_keys(d.topic, d.status, d.unmapped_skus, d.invalid_lines) k
   GROUP BY 1, 2, 3, 4
  ON CONFLICT (loja_id, day, kind, key, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION shopify_delivery_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO shopify_webhookdailycount AS c (loja_id, day, kind, key, shard, n)
  SELECT x.loja_id, x.day, x.kind, x.key, pg_backend_pid() % 8, sum(x.n)
    FROM (
      SELECT OLD.loja_id, (OLD.created_at AT TIME ZONE 'UTC')::date AS day, k.kind, k.key, -1 AS n
        FROM shopify_delivery_count_keys(OLD.topic, OLD.status, OLD.unmapped_skus, OLD.invalid_lines) k
      UNION ALL
      SELECT NEW.loja_id, (NEW.created_at AT TIME ZONE 'UTC')::date, k.kind, k.key, 1
        FROM shopify_delivery_count_keys(NEW.topic, NEW.status, NEW.unmapped_skus, NEW.invalid_lines) k
    ) x
   GROUP BY 1, 2, 3, 4
  HAVING sum(x.n) <> 0
  ON CONFLICT (loja_id, day, kind, key, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER delivery_counts_added AFTER INSERT ON shopify_webhookdelivery
  REFERENCING NEW TABLE AS delivery_rows FOR EACH STATEMENT EXECUTE FUNCTION shopify_delivery_counts_added();
CREATE TRIGGER delivery_counts_removed AFTER DELETE ON shopify_webhookdelivery
  REFERENCING OLD TABLE AS delivery_rows FOR EACH STATEMENT EXECUTE FUNCTION shopify_delivery_counts_removed();
CREATE TRIGGER delivery_counts_changed AFTER UPDATE OF loja_id, topic, status, unmapped_skus, invalid_lines, created_at
  ON shopify_webhookdelivery FOR EACH ROW
  WHEN (OLD.loja_id IS DISTINCT FROM NEW.loja_id OR OLD.topic IS DISTINCT FROM NEW.topic
        OR OLD.status IS DISTINCT FROM NEW.status OR OLD.unmapped_skus IS DISTINCT FROM NEW.unmapped_skus
        OR OLD.invalid_lines IS DISTINCT FROM NEW.invalid_lines OR OLD.created_at IS DISTINCT FROM NEW.created_at)
  EXECUTE FUNCTION shopify_delivery_counts_changed();
"""

BACKFILL = """
INSERT INTO shopify_webhookdailycount (loja_id, day, kind, key, shard, n)
SELECT d.loja_id, (d.created_at AT TIME ZONE 'UTC')::date, k.kind, k.key, 0, count(*)
  FROM shopify_webhookdelivery d
  CROSS JOIN LATERAL shopify_delivery_count_keys(d.topic, d.status, d.unmapped_skus, d.invalid_lines) k
 GROUP BY 1, 2, 3, 4;
"""

DROP = """
DROP TRIGGER IF EXISTS delivery_counts_added ON shopify_webhookdelivery;
DROP TRIGGER IF EXISTS delivery_counts_removed ON shopify_webhookdelivery;
DROP TRIGGER IF EXISTS delivery_counts_changed ON shopify_webhookdelivery;
DROP FUNCTION IF EXISTS shopify_delivery_counts_added();
DROP FUNCTION IF EXISTS shopify_delivery_counts_removed();
DROP FUNCTION IF EXISTS shopify_delivery_counts_changed();
DROP FUNCTION IF EXISTS shopify_delivery_count_keys(text, text, jsonb, jsonb);
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        # Writers finish and wait: what is already there is counted once, by the backfill, and
        # everything after, once, by the triggers.
        cur.execute("LOCK TABLE shopify_webhookdelivery IN SHARE MODE")
        cur.execute(FUNCTIONS)
        cur.execute(TRIGGERS)
        cur.execute(BACKFILL)


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ("shopify", "0005_reconcilecursor"),
        ("stores", "0005_deposito"),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookDailyCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("kind", models.CharField(max_length=10)),
                ("key", models.CharField(max_length=255)),
                ("shard", models.SmallIntegerField(default=0)),
                ("n", models.BigIntegerField(default=0)),
                ("loja", models.ForeignKey(db_constraint=False, db_index=False,
                                           on_delete=models.deletion.DO_NOTHING, related_name="+",
                                           to="stores.loja")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("loja", "day", "kind", "key", "shard"),
                                                        name="webhook_daily_count_key")],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
