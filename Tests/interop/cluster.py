"""A PostgreSQL cluster of a test's own (ops/lib/common.sh), for tests that stop and restart the
database under a running server: migrated, with an app and an admin login role."""
import os
import shutil
import subprocess
import tempfile
import uuid

from conftest import BIN, env_without_rampart, free_port

ROOT = os.path.join(os.path.dirname(__file__), "../..")


def ops(command):
    subprocess.run(["bash", "-c", f"source {ROOT}/ops/lib/common.sh; {command}"], check=True)


class OwnCluster:
    def __init__(self, prefix="rampart-own-"):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=prefix)  # the postgres OS user must reach it
        ops(f"pg_up {self.dir} {self.port}")
        self.superuser = self.url("postgres")
        subprocess.run([BIN, "db", "migrate", "--database-url", self.superuser], check=True, capture_output=True)
        self.psql("CREATE ROLE own_app LOGIN IN ROLE rampart_app; CREATE ROLE own_admin LOGIN IN ROLE rampart_admin")
        self.app, self.admin = self.url("own_app"), self.url("own_admin")

    def url(self, role):
        return f"postgres://{role}@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def psql(self, sql):
        return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", self.superuser, "-c", sql],
                              check=True, capture_output=True, text=True).stdout.strip()

    def rampart(self, *args):
        result = subprocess.run([BIN, *args], capture_output=True, text=True,
                                env=env_without_rampart(RAMPART_ADMIN_DATABASE_URL=self.admin))
        assert result.returncode == 0, result.stderr
        return result.stdout

    def new_tenant(self):
        tenant = f"o-{uuid.uuid4().hex[:8]}"
        self.rampart("admin", "tenant", "create", tenant)
        return tenant

    def stop(self, mode="fast"):
        ops(f"pg_down {self.dir} {mode}")

    def start(self):
        ops(f"pg_start {self.dir} {self.port}")

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
