"""A private, throwaway PostgreSQL server for tests that stop and start it.

The suite's own server is never touched. This one is the embedded PostgreSQL's binaries
(chegouhub/common/embedded_pg.py) on a data directory of its own in a temporary directory, on a
free port, and is removed at the end.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from chegouhub.common.embedded_pg import Server
from tests.live import free_port


class PrivatePostgres:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="chegouhub-pg-"))
        self.server = Server(self.root, fsync="off", full_page_writes="off", max_connections="50",
                             shared_buffers="32MB")
        self.port = free_port()
        self.url = self.server.url(self.port)

    def init(self) -> PrivatePostgres:
        self.start()
        self.server.ensure_database(self.port)
        return self

    def start(self) -> None:
        self.server.start(self.port)

    def stop(self, mode: str = "fast") -> None:
        self.server.stop(mode)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            time.sleep(0.1)
            shutil.rmtree(self.root, ignore_errors=True)
