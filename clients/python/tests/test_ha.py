"""A high-availability pair: two real coordinators on one PostgreSQL journal (a server this module
starts from Debian's postgresql binaries, as the Java tests' TestPostgres does), a worker joining
both. The client follows the standby's UNAVAILABLE + `weft-leader` trailer to the leader, and a
watch survives the leader's SIGKILL by watching again on the coordinator that takes over."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import weft
from weft.v1 import job_pb2

from conftest import WEFT, Process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin():
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
            if os.access(os.path.join(d, "initdb"), os.X_OK)]
    return max(dirs, key=lambda d: int(d.split("/")[-2])) if dirs else None


class Postgres:
    def __init__(self, tmp):
        bin_dir = postgres_bin()
        if bin_dir is None:
            pytest.skip("PostgreSQL is not installed (Debian package postgresql: no "
                        "/usr/lib/postgresql/*/bin); ./build test installs it where it can")
        self.dir = os.path.join(tmp, "pg")
        os.mkdir(self.dir)
        as_user = []
        if os.getuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "nobody", "nogroup")
            as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        data = os.path.join(self.dir, "data")
        subprocess.run(as_user + [os.path.join(bin_dir, "initdb"), "-D", data, "-U", "weft",
                                  "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True, timeout=120)
        self.port = free_port()
        self.log = open(os.path.join(tmp, "postgres.log"), "w")
        self.proc = subprocess.Popen(
            as_user + [os.path.join(bin_dir, "postgres"), "-D", data, "-k", self.dir, "-p",
                       str(self.port), "-h", "127.0.0.1", "-c", "fsync=off"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while subprocess.run([os.path.join(bin_dir, "pg_isready"), "-h", "127.0.0.1", "-p",
                              str(self.port)], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("PostgreSQL did not start; see " + self.log.name)
            time.sleep(0.2)
        self.url = "postgresql://127.0.0.1:%d/postgres?user=weft" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def pair():
    tmp = tempfile.mkdtemp(prefix="weft-py-ha-")
    os.chmod(tmp, 0o755)  # the postgres user (nobody) must reach its directory
    runtime = os.path.join(tmp, "runtime")
    os.mkdir(runtime, 0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime, XDG_CONFIG_HOME=os.path.join(tmp, "config"))
    processes, pg = [], None
    try:
        pg = Postgres(tmp)

        def coordinator(name):
            port = free_port()
            p = Process(name, [WEFT, "coordinator", "--listen", "127.0.0.1:%d" % port,
                               "--data-dir", os.path.join(tmp, name), "--journal", pg.url,
                               "--leader-lease", "3s", "--heartbeat", "500ms", "--lease", "4s",
                               "--http-listen", "off"], env, tmp)
            processes.append(p)
            return p, "127.0.0.1:%d" % port

        leader, leader_address = coordinator("a")
        leader.wait_for(r"listening on 127\.0\.0\.1")
        standby, standby_address = coordinator("b")
        standby.wait_for(r"standing by on")
        # A worker joins one address; one for each coordinator, so the one that takes over has
        # a worker of its own (the standby's waits, refused, until it leads).
        for name, address in (("worker-a", leader_address), ("worker-b", standby_address)):
            processes.append(Process(name, [WEFT, "worker", "--join", address, "--slots", "2",
                                            "--id", name], env, tmp))
        processes[-2].wait_for(r"attached to coordinator")
        with open(os.path.join(tmp, "a", "security", "admin-token")) as f:
            token = f.read().strip()
        yield {"leader": leader, "leader_address": leader_address, "standby": standby,
               "standby_address": standby_address, "token": token}
    finally:
        for p in reversed(processes):
            p.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_standby_leads_the_client_to_the_leader(pair):
    with weft.Client(pair["standby_address"], token=pair["token"]) as c:
        assert c.submit_sum(1, 1_000_000, tasks=4).result(timeout=60) == 500000500000
        assert c._conn.address == pair["leader_address"]


def test_a_watch_follows_the_job_to_the_coordinator_that_takes_over(pair):
    both = pair["leader_address"] + "," + pair["standby_address"]
    with weft.Client(both, token=pair["token"]) as c:
        job = c.submit_sleep(1500, tasks=8)
        kinds = []
        killed = False
        for event in job.events(timeout=120):
            kinds.append(event.WhichOneof("event"))
            if not killed and event.WhichOneof("event") == "progress" and event.progress.done >= 1:
                pair["leader"].proc.send_signal(signal.SIGKILL)
                pair["leader"].proc.wait(timeout=60)
                killed = True
        assert killed, kinds
        assert kinds[-1] == "finished"
        # Watched again after the kill: a second snapshot (or the finished job) from the new leader.
        assert kinds.count("snapshot") + kinds.count("finished") >= 2, kinds
        final = c.get_job(job.id)
        assert final.state == job_pb2.SUCCEEDED
        assert final.tasks_done == 8
        assert c._conn.address == pair["standby_address"]
