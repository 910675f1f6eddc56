#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    if not os.environ.get("DATABASE_URL"):
        # No database given: run this same command on the embedded PostgreSQL (started, then stopped).
        from chegouhub.common.embedded_pg import main

        sys.exit(main([sys.executable, *sys.argv]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
