"""What the local ClickHouse (chdb-core served on loopback) does with users and row policies.

The finding docs/reports-access.md rests on: the engine authenticates users and enforces
row policies, but only those of a users file read when it starts; SQL-driven access
control (CREATE USER, CREATE ROW POLICY) has no storage to write to, and a changed users
file is not read again. So a tenant added at run time cannot get a ClickHouse user of its
own there: the reports' query layer enforces ownership. If one of these tests starts
failing, the engine changed: per-tenant users with row policies may then be usable.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from bus.clickhouse import make_clickhouse_client
from bus.errors import RetriableError
from bus.settings import Settings
from ops.stack.ports import free_ports

pytestmark = pytest.mark.integration


def test_the_stack_clickhouse_authenticates_users_but_cannot_create_any(bus_settings: Settings) -> None:
    client = make_clickhouse_client(bus_settings.clickhouse, create_database=False)
    try:
        with pytest.raises(DatabaseError, match="ACCESS_DENIED"):
            client.command("CREATE USER IF NOT EXISTS `tenant-x` IDENTIFIED WITH sha256_password BY 'pw'")
        with pytest.raises(DatabaseError, match="ACCESS_DENIED"):
            client.command("CREATE ROW POLICY IF NOT EXISTS own ON default.t USING 1 TO ALL")
        assert client.query("SELECT name FROM system.users").result_rows == [("default",)]
    finally:
        client.close()
    stranger = bus_settings.clickhouse.url.replace("http://", "http://nobody:guess@")
    with pytest.raises(RetriableError) as refused:
        make_clickhouse_client(bus_settings.clickhouse.model_copy(update={"url": stranger}))
    assert "AUTHENTICATION_FAILED" in str(refused.value)


# The stack's server (ops/stack/clickhouse_server.py), with a users file and SQL-driven
# access control switched on as far as a configuration can.
_SERVE = """
import os, sys
import chdb
from chdb import _chdb
d, http, tcp = sys.argv[1:4]
os.makedirs(d + "/data", exist_ok=True)
os.makedirs(d + "/access", exist_ok=True)
open(d + "/config.xml", "w").write(f'''<clickhouse>
 <listen_host>127.0.0.1</listen_host><http_port>{http}</http_port><tcp_port>{tcp}</tcp_port>
 <path>{d}/data/</path><users_config>{d}/users.xml</users_config>
 <access_control_path>{d}/access/</access_control_path>
 <user_directories><users_xml><path>{d}/users.xml</path></users_xml>
   <local_directory><path>{d}/access/</path></local_directory></user_directories>
</clickhouse>''')
os.chdir(d)
_chdb.query("SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT number FROM system.numbers "
            "WHERE sleepEachRow(1) != 0 SETTINGS max_block_size = 1", "TabSeparated", path=d + "/data")
"""


def _user(name: str, password: str, venue: str, admin: bool = False) -> str:
    rights = "<access_management>1</access_management>" if admin else ""
    policy = "" if admin else f"<databases><t><perf><filter>venue_id = '{venue}'</filter></perf></t></databases>"
    return (f"<{name}><password>{password}</password><networks><ip>127.0.0.1</ip></networks>"
            f"<profile>default</profile><quota>default</quota>{rights}{policy}</{name}>")


def _users_file(*users: str) -> str:
    return (f"<clickhouse><profiles><default/></profiles><quotas><default/></quotas>"
            f"<users>{''.join(users)}</users></clickhouse>")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The chdb-core engine served like the stack's, with users from a file; its URL and file."""
    http, tcp = free_ports(2)
    users = tmp_path / "users.xml"
    users.write_text(_users_file(_user("default", "", "", admin=True), _user("tenant-a", "pw-a", "v1")))
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(tmp_path), str(http), str(tcp)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
        yield url, users
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def _sql(url: str, sql: str, user: str = "default", password: str = "") -> tuple[int, str]:
    r = httpx.post(url, content=sql, auth=(user, password), timeout=30)
    return r.status_code, r.text.strip()


@pytest.mark.slow
def test_the_engine_enforces_row_policies_of_its_users_file_but_none_made_at_run_time(
        engine: tuple[str, Path]) -> None:
    url, users = engine
    for sql in ("CREATE DATABASE t",
                "CREATE TABLE t.perf (performance_id String, venue_id String) ENGINE = MergeTree ORDER BY performance_id",
                "INSERT INTO t.perf VALUES ('p1', 'v1'), ('p2', 'v2')"):
        assert _sql(url, sql)[0] == 200, sql
    # the users file's row policy holds over HTTP; a wrong password is refused
    assert _sql(url, "SELECT performance_id FROM t.perf", "tenant-a", "pw-a") == (200, "p1")
    assert _sql(url, "SELECT count() FROM t.perf") == (200, "2")
    status, text = _sql(url, "SELECT 1", "tenant-a", "wrong")
    assert status != 200 and "AUTHENTICATION_FAILED" in text
    # SQL-driven access control has nowhere to keep a user, even for an admin with access_management
    status, text = _sql(url, "CREATE USER `tenant-b` IDENTIFIED WITH sha256_password BY 'pw-b'")
    assert status != 200 and "ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND" in text, text
    # and a user added to the file is not read again
    users.write_text(_users_file(_user("default", "", "", admin=True), _user("tenant-a", "pw-a", "v1"),
                                 _user("tenant-b", "pw-b", "v2")))
    _sql(url, "SYSTEM RELOAD USERS")
    status, text = _sql(url, "SELECT performance_id FROM t.perf", "tenant-b", "pw-b")
    assert status != 200 and "AUTHENTICATION_FAILED" in text, text
