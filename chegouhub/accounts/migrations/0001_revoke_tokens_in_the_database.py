"""A new password or a deactivation revokes the user's API tokens whatever wrote it (CONTRACT 8):
a queryset `update`, SQL, another program. Django's signals see only `save()`, so the rule lives
in the database, on the row itself. Django's own re-hash at login (same password, more iterations)
marks its statement with `chegouhub.password_rehash` (accounts/signals.py) and keeps the tokens."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION chegouhub_revoke_api_tokens() RETURNS trigger AS $$
BEGIN
  IF (NEW.password IS DISTINCT FROM OLD.password
      AND coalesce(current_setting('chegouhub.password_rehash', true), '') <> 'on')
     OR (OLD.is_active AND NOT NEW.is_active) THEN
    DELETE FROM authtoken_token WHERE user_id = NEW.id;
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER chegouhub_revoke_api_tokens AFTER UPDATE OF password, is_active ON auth_user
  FOR EACH ROW EXECUTE FUNCTION chegouhub_revoke_api_tokens();
"""

DROP = """
DROP TRIGGER IF EXISTS chegouhub_revoke_api_tokens ON auth_user;
DROP FUNCTION IF EXISTS chegouhub_revoke_api_tokens();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
