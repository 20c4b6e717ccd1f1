"""The Python client against a real coordinator and worker (see conftest.py)."""

import asyncio
import os
import shutil
import subprocess
import time

import pytest

import weft
from weft import aio
from weft.v1 import job_pb2

from conftest import WEFT


def client_token(cluster, name, role="submit", exec_=True):
    args = ["token", "create", name, "--role", role, "--data-dir", cluster.data_dir]
    if exec_:
        args.append("--allow-exec")
    out = cluster.weft(*args)
    return next(w for w in out.split() if w.startswith("weft1-"))


@pytest.fixture(scope="module")
def tls_token(cluster):
    return client_token(cluster, "py-tests")


def test_sum_is_exact(cluster):
    # No credentials given: found as the CLI finds them (this user's coordinator on that port).
    with weft.Client(cluster.address) as c:
        assert c.submit_sum(1, 1_000_000_000, tasks=100).result(timeout=120) == 500000000500000000
        # As the CLI: through the coordinator's Unix socket, which this user may connect to.
        assert c._conn.route.target.startswith("unix:")


def test_without_a_socket_the_admin_token_is_found_and_used_over_tls(cluster):
    # A coordinator that serves no Unix socket: the registry leads to its admin token.
    tmp = os.path.join(cluster.tmp, "nosocket")
    p = cluster.spawn("coordinator-nosocket", [WEFT, "coordinator", "--data-dir", tmp, "--listen",
                                               "127.0.0.1:0", "--http-listen", "off",
                                               "--socket", "none"])
    try:
        port = p.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        with weft.Client("127.0.0.1:" + port) as c:
            assert c.jobs() == []
            assert c._conn.route.target == "127.0.0.1:" + port
            assert c._conn.route.credentials is not None  # TLS
            with open(os.path.join(tmp, "security", "admin-token")) as f:
                assert c._conn.route.token == f.read().strip()
    finally:
        p.stop()


def test_sum_over_tls_with_a_client_token(cluster, tls_token):
    # An explicit token: TLS, the coordinator's CA pinned by the token's fingerprint.
    with weft.Client(cluster.address, token=tls_token) as c:
        job = c.submit_sum(-5, 2_000_000, tasks=7)
        assert job.result(timeout=120) == sum(range(-5, 2_000_001))
        assert job.info.spec.owner == "py-tests"


def test_tls_with_the_ca_file(cluster, tls_token):
    ca = os.path.join(cluster.data_dir, "security", "ca.pem")
    with weft.Client(cluster.address, token=tls_token, ca_file=ca) as c:
        assert c.submit_sum(1, 100).result(timeout=60) == 5050


def test_grpc_verifies_the_chain_and_the_host_name(cluster, tls_token, tmp_path):
    # The name the certificate must carry is checked on the gRPC connection itself.
    with weft.Client(cluster.address, token=tls_token, server_name="wrong.example") as c:
        with pytest.raises(weft.CertificateRejected) as e:
            c.jobs()
        assert "wrong.example" in e.value.message
    with weft.Client(cluster.address, token=tls_token, server_name="localhost") as c:
        assert isinstance(c.jobs(), list)
    # A CA file of another CA: the chain does not verify, with or without the token.
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make another CA with")
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tmp_path / "other.key"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=another CA"],
                   check=True, capture_output=True)
    for token in (None, tls_token):
        with weft.Client(cluster.address, token=token, ca_file=str(other)) as c:
            with pytest.raises(weft.CertificateRejected):
                c.jobs()


def test_exec_runs_each_input_and_streams_events(cluster, tls_token):
    with weft.Client(cluster.address, token=tls_token) as c:
        job = c.submit_exec(["sh", "-c", "echo {}"], inputs=["a", "b"])
        events = list(job.events(timeout=60))
        # A snapshot first, unless the job had already finished when the watch began.
        assert events[0].WhichOneof("event") in ("snapshot", "finished")
        assert events[-1].WhichOneof("event") == "finished"
        assert events[-1].finished.state == job_pb2.SUCCEEDED
        result = job.result(timeout=60)
        assert result.succeeded == 2 and result.failed == 0
        assert sorted(t.stdout_tail.strip() for t in result.tasks) == ["a", "b"]


def test_exec_failure_carries_exit_code_and_stderr(cluster, tls_token):
    with weft.Client(cluster.address, token=tls_token) as c:
        job = c.submit_exec(["sh", "-c", "echo broken {} >&2; exit 3"], inputs=["x"])
        with pytest.raises(weft.JobFailed) as failed:
            job.result(timeout=60)
        assert failed.value.exit_code == 3
        assert "broken x" in failed.value.stderr
        assert failed.value.job.state == job_pb2.FAILED
        assert "exit 3" in str(failed.value)


def test_cancel_stops_a_running_job(cluster, tls_token):
    with weft.Client(cluster.address, token=tls_token) as c:
        job = c.submit_exec(["sleep", "300"], inputs=["1"], grace=5)
        for event in job.events(timeout=60):
            if event.WhichOneof("event") == "progress" and event.progress.running > 0:
                break
            if event.WhichOneof("event") == "snapshot" and event.snapshot.tasks_running > 0:
                break
        started = time.monotonic()
        assert job.cancel("python test") is True
        with pytest.raises(weft.JobCancelled):
            job.result(timeout=60)
        assert time.monotonic() - started < 30
        final = job.refresh()
        assert final.state == job_pb2.CANCELLED
        assert final.tasks_stopped == 1
        assert final.stops[0].outcome in (job_pb2.EXITED_ON_TERM, job_pb2.KILLED)
        assert job.cancel() is False  # already finished


def test_a_wrong_token_raises_unauthenticated(cluster, tls_token):
    fingerprint = tls_token.split("-")[1]
    wrong = "weft1-%s-%s" % (fingerprint, "0" * 32)
    with weft.Client(cluster.address, token=wrong) as c:
        with pytest.raises(weft.Unauthenticated) as e:
            c.jobs()
        assert "token" in e.value.message


def test_a_token_of_another_coordinator_is_refused_before_it_is_sent(cluster, tls_token):
    other = "weft1-%s-%s" % ("ab" * 32, tls_token.split("-")[2])
    with weft.Client(cluster.address, token=other) as c:
        with pytest.raises(weft.CertificateRejected) as e:
            c.jobs()
        assert "does not match the token" in e.value.message


def test_a_read_token_may_not_submit(cluster):
    token = client_token(cluster, "py-reader", role="read", exec_=False)
    with weft.Client(cluster.address, token=token) as c:
        assert isinstance(c.jobs(), list)
        with pytest.raises(weft.PermissionDenied):
            c.submit_sum(1, 10)


def test_invalid_argument_carries_the_servers_message(cluster, tls_token):
    with weft.Client(cluster.address, token=tls_token) as c:
        with pytest.raises(weft.InvalidArgument) as e:
            c.submit_sum(1, 10, tasks=1, task_size=2)
        assert e.value.message  # the coordinator's explanation, not a generic one
        with pytest.raises(weft.NotFound):
            c.job("no-such-job")


def test_a_damaged_token_is_a_configuration_error():
    with pytest.raises(weft.ConfigurationError):
        weft.Client("127.0.0.1:7070", token="weft1-nothex")


def test_nothing_is_sent_without_a_token_to_a_port_no_coordinator_of_ours_serves(cluster):
    with weft.Client("127.0.0.1:1") as c:
        with pytest.raises(weft.Unavailable) as e:
            c.jobs()
        assert "no coordinator of this user serves 127.0.0.1:1" in e.value.message


def test_several_addresses_fail_over_to_one_that_answers(cluster, tls_token):
    with weft.Client("127.0.0.1:1," + cluster.address, token=tls_token) as c:
        assert c.submit_sum(1, 1000).result(timeout=60) == 500500


def test_async_client(cluster, tls_token):
    async def main():
        async with aio.Client(cluster.address, token=tls_token) as c:
            job = await c.submit_sum(1, 1_000_000, tasks=10)
            kinds = [e.WhichOneof("event") async for e in job.events(timeout=60)]
            assert kinds[0] in ("snapshot", "finished") and kinds[-1] == "finished"
            assert await job.result(timeout=60) == 500000500000
            failing = await c.submit_exec(["sh", "-c", "echo no >&2; exit 4"], inputs=["1"])
            with pytest.raises(weft.JobFailed) as failed:
                await failing.result(timeout=60)
            assert failed.value.exit_code == 4
            sleeper = await c.submit_exec(["sleep", "300"], inputs=["1"])
            assert await sleeper.cancel() is True
            with pytest.raises(weft.JobCancelled):
                await sleeper.result(timeout=60)
        async with aio.Client(cluster.address, token="weft1-%s-%s" % (
                tls_token.split("-")[1], "1" * 32)) as bad:
            with pytest.raises(weft.Unauthenticated):
                await bad.jobs()

    asyncio.run(main())
