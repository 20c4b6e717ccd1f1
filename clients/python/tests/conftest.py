"""A real weft coordinator and worker for the tests, started from the repository's ./weft.

The coordinator gets a fresh data dir and a registry of its own ($XDG_RUNTIME_DIR pointed at a
temporary directory), so the client finds its credentials the way a local user's would be found,
without touching the user's own coordinators. Every process started here is stopped at the end.
"""

import faulthandler
import os
import re
import sys
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = os.environ.get("WEFT_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
WEFT = os.path.join(ROOT, "weft")


# No test may hang the build. Past TEST_SECONDS every thread's stack is printed and the test fails
# in its main thread, so the fixtures still stop what they started; should even that not return,
# the run exits a little later (scripts/python-client-test.sh then kills what is left).
TEST_SECONDS = int(os.environ.get("WEFT_PY_TEST_SECONDS", "240"))


class TestTookTooLong(Exception):
    pass


def _too_long(signum, frame):
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    raise TestTookTooLong("the test did not end within %ss (stacks above)" % TEST_SECONDS)


@pytest.fixture(autouse=True)
def deadline():
    previous = signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(TEST_SECONDS)
    faulthandler.dump_traceback_later(TEST_SECONDS + 120, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        signal.alarm(0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


class Process:
    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.out_path = os.path.join(log_dir, name + ".out")
        self.err_path = os.path.join(log_dir, name + ".err")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(self.out_path, "w"), stderr=open(self.err_path, "w"),
                                     start_new_session=True)

    def output(self):
        with open(self.out_path) as f:
            out = f.read()
        with open(self.err_path) as f:
            return out, f.read()

    def wait_for(self, pattern, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out, err = self.output()
            m = re.search(pattern, out + err)
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %s before printing %r:\n%s\n%s"
                                     % (self.name, self.proc.returncode, pattern, out, err))
            time.sleep(0.1)
        raise AssertionError("%s did not print %r within %ss" % (self.name, pattern, timeout))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Cluster:
    def __init__(self, tmp):
        self.tmp = tmp
        self.data_dir = os.path.join(tmp, "data")
        runtime = os.path.join(tmp, "runtime")
        os.mkdir(runtime, 0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
        for key in ("WEFT_COORDINATOR", "WEFT_TOKEN", "WEFT_CONFIG", "WEFT_TLS_CA"):
            self.env.pop(key, None)
        self.env["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
        self.processes = []
        self.address = None

    def start(self):
        coordinator = self.spawn("coordinator", [WEFT, "coordinator", "--data-dir", self.data_dir,
                                                 "--listen", "127.0.0.1:0", "--http-listen", "off"])
        port = coordinator.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        self.address = "127.0.0.1:" + port
        worker = self.spawn("worker", [WEFT, "worker", "--join", self.address, "--slots", "2",
                                       "--id", "py-worker"])
        worker.wait_for(r"attached to coordinator")
        return self

    def spawn(self, name, argv):
        p = Process(name, argv, self.env, self.tmp)
        self.processes.append(p)
        return p

    def weft(self, *args):
        """Runs a weft CLI command of this cluster's user; its stdout."""
        return subprocess.run([WEFT] + list(args), env=self.env, check=True, capture_output=True,
                              text=True, timeout=120).stdout

    def stop(self):
        for p in reversed(self.processes):
            p.stop()


@pytest.fixture(scope="session")
def cluster():
    tmp = tempfile.mkdtemp(prefix="weft-py-")
    c = Cluster(tmp)
    try:
        c.start()
        old = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "WEFT_TOKEN",
                                              "WEFT_COORDINATOR", "WEFT_CONFIG", "WEFT_TLS_CA")}
        os.environ.update(XDG_RUNTIME_DIR=c.env["XDG_RUNTIME_DIR"],
                          XDG_CONFIG_HOME=c.env["XDG_CONFIG_HOME"])
        for k in ("WEFT_TOKEN", "WEFT_COORDINATOR", "WEFT_CONFIG", "WEFT_TLS_CA"):
            os.environ.pop(k, None)
        yield c
    finally:
        c.stop()
        for k, v in locals().get("old", {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
