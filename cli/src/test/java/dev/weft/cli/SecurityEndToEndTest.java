package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static dev.weft.cli.ProcessCluster.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.security.ClientSecurity;
import dev.weft.security.TestPki;
import dev.weft.v1.JobState;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Secure joining with real processes: coordinators in secure mode on loopback addresses ({@code
 * --tls on}, as they are by default beyond loopback), workers and clients with the right token, a
 * wrong one, none, another coordinator's; rotation; certificates of the user's own with mutual TLS;
 * local workers in each mode.
 */
final class SecurityEndToEndTest {
  private static final Pattern TOKEN = Pattern.compile("weft1-[0-9a-f]{64}-[0-9a-f]{32}");

  private ProcessCluster cluster;
  private Path pki;

  @BeforeEach
  void start() throws IOException {
    cluster = new ProcessCluster();
    pki = Files.createTempDirectory("weft-pki-");
  }

  @AfterEach
  void stop() throws Exception {
    try {
      cluster.close();
    } finally {
      try (var files = Files.walk(pki)) {
        for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(file);
        }
      }
    }
  }

  @Test
  void workersAndClientsNeedTheJoinToken() throws Exception {
    Address address =
        cluster.startCoordinatorOn(
            "127.0.0.2",
            "--tls",
            "on",
            "--local-workers",
            "1",
            "--local-transport",
            "grpc",
            "--local-slots",
            "1");
    String token = cluster.token();
    assertNotNull(token, cluster::logTails);
    assertTrue(TOKEN.matcher(token).matches(), token);

    // The cluster hands the token to this worker in WEFT_TOKEN; the local worker got its own.
    cluster.startWorker("good", 2);
    cluster.awaitWorkers(2);
    CliResult sum =
        cluster.client(
            "submit", "sum", "--from", "1", "--to", "1000", "--tasks", "4", "--wait", "--json");
    assertExit(0, sum);
    assertEquals(JobState.SUCCEEDED, sum.job().getState());
    assertEquals("500500", sum.job().getResult().getSum().getSum());
    // The local worker's token travels in its environment, never on its command line.
    assertTrue(
        ProcessHandle.current()
            .descendants()
            .flatMap(p -> p.info().arguments().stream().flatMap(Arrays::stream))
            .noneMatch(arg -> arg.contains("weft1-")),
        "a token on a command line");

    // A wrong secret: refused, and the worker stops (77) saying why.
    String wrong =
        token.substring(0, token.length() - 4) + (token.endsWith("0000") ? "1111" : "0000");
    Process refused = cluster.startWorker("wrong", 1, "--token", wrong);
    assertTrue(refused.waitFor(ProcessCluster.START_DEADLINE.toSeconds(), TimeUnit.SECONDS));
    assertEquals(ExitCodes.REFUSED, refused.exitValue(), cluster::logTails);
    assertTrue(
        cluster
            .logTails()
            .contains(
                "weft worker wrong stopped: the coordinator at "
                    + address
                    + " refused this worker: the token was not accepted"),
        cluster::logTails);

    // No token at all, and none to find (another user's registry, as far as it knows): it sends
    // nothing to the port, waits, and says what to do.
    Path noRegistry = Files.createDirectories(cluster.dataDir().resolveSibling("no-registry"));
    Map<String, String> stranger =
        Map.of("WEFT_TOKEN", "", "XDG_RUNTIME_DIR", noRegistry.toString());
    cluster.startWorker(stranger, "none", 1);
    Await.until(
        "the worker without a token to wait",
        ProcessCluster.START_DEADLINE,
        () ->
            cluster
                .logTails()
                .contains(
                    "no token for "
                        + address
                        + " yet: waiting for this user's coordinator to start there (or pass"
                        + " --token); nothing is sent to that port without one"),
        cluster::logTails);
    assertEquals(
        List.of("good", "local-1"),
        cluster.client("workers", "--json").workers().stream()
            .map(WorkerInfo::getId)
            .sorted()
            .toList());

    // Clients likewise.
    CliResult plain = cluster.cliProcess(stranger, "workers", "--coordinator", address.toString());
    // As far as it can tell no coordinator of its user serves the port: it sends nothing there.
    assertExit(ExitCodes.UNREACHABLE, plain);
    assertTrue(
        plain
            .err()
            .startsWith(
                "weft workers: no coordinator of this user serves "
                    + address
                    + ": start one with 'weft coordinator'; for another user's, pass a client"
                    + " token"),
        plain::toString);

    Path ca = cluster.dataDir().resolve("security/ca.pem");
    CliResult noToken =
        cli("workers", "--coordinator", address.toString(), "--tls-ca", ca.toString());
    assertExit(ExitCodes.REFUSED, noToken);
    assertEquals(
        "weft workers: the coordinator at "
            + address
            + " refused the request: no token: this coordinator requires one; workers pass the join"
            + " token (`weft token show` on the coordinator's host), clients a client token (`weft"
            + " token create NAME --role submit`), with --token or WEFT_TOKEN\n",
        noToken.err());

    CliResult wrongToken = cli("workers", "--coordinator", address.toString(), "--token", wrong);
    assertExit(ExitCodes.REFUSED, wrongToken);
    assertTrue(wrongToken.err().contains("the token was not accepted"), wrongToken::toString);

    // The join token is a worker's: known, but not a client.
    CliResult joinToken = cli("workers", "--coordinator", address.toString(), "--token", token);
    assertExit(ExitCodes.REFUSED, joinToken);
    assertTrue(
        joinToken.err().contains("a worker's join token cannot use JobService"),
        joinToken::toString);

    CliResult damaged = cli("workers", "--coordinator", address.toString(), "--token", "weft1-abc");
    assertExit(ExitCodes.USAGE, damaged);
    assertTrue(damaged.err().startsWith("weft workers: --token: the join token is damaged"));

    // Health checks answer over TLS without a token (probes).
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                address.host(), address.port(), new ClientSecurity().caFile(ca).credentials())
            .build();
    try {
      assertEquals(
          ServingStatus.SERVING,
          HealthGrpc.newBlockingStub(channel)
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance())
              .getStatus());
    } finally {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * A process of any user that holds the loopback port while the coordinator is down gets nothing
   * from weft's own CLI and workers: without a token they send it nothing at all, and with one the
   * TLS handshake fails on the token's pin before any call (or the token) goes out.
   */
  @Test
  void aProcessHoldingThePortGetsNoJobAndNoWorker() throws Exception {
    // The real coordinator ran once: its join and admin tokens exist, pinning its certificate.
    String joinToken;
    String adminToken;
    try (ProcessCluster real = new ProcessCluster()) {
      real.startCoordinatorOn("127.0.0.1");
      joinToken = real.token();
      adminToken = real.adminToken();
    }
    try (java.net.ServerSocket squatter = new java.net.ServerSocket()) {
      squatter.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      String port = "127.0.0.1:" + squatter.getLocalPort();
      java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
      java.util.concurrent.atomic.AtomicInteger connections =
          new java.util.concurrent.atomic.AtomicInteger();
      Thread listener =
          Thread.ofVirtual()
              .start(
                  () -> {
                    while (!squatter.isClosed()) {
                      try (java.net.Socket socket = squatter.accept()) {
                        connections.incrementAndGet();
                        socket.setSoTimeout(2_000);
                        byte[] buffer = new byte[4096];
                        for (int n; (n = socket.getInputStream().read(buffer)) > 0; ) {
                          synchronized (received) {
                            received.write(buffer, 0, n);
                          }
                        }
                      } catch (IOException e) {
                        // The next connection, or the squatter was closed: the test is done.
                      }
                    }
                  });
      Map<String, String> noToken = Map.of("WEFT_TOKEN", "");
      Process worker =
          cluster.startProcess(
              "squatted-worker", noToken, "worker", "--join", port, "--id", "squatted");
      CliResult submit =
          cluster.cliProcess(
              noToken, "submit", "sum", "--from", "1", "--to", "10", "--coordinator", port);
      assertExit(ExitCodes.UNREACHABLE, submit);
      assertTrue(
          submit.err().contains("no coordinator of this user serves " + port), submit::toString);
      Await.until(
          "the tokenless worker to wait",
          ProcessCluster.START_DEADLINE,
          () -> cluster.logTails().contains("no token for " + port + " yet"),
          cluster::logTails);
      assertEquals(0, connections.get(), "nothing without a token reached the port");

      // With the real coordinator's tokens: the handshake fails on the pin, nothing more is sent.
      CliResult pinned =
          cluster.cliProcess(
              Map.of("WEFT_TOKEN", adminToken),
              "submit",
              "sum",
              "--from",
              "1",
              "--to",
              "10",
              "--coordinator",
              port);
      assertTrue(pinned.exitCode() != 0, pinned::toString);
      Process pinnedWorker =
          cluster.startProcess(
              "pinned-worker",
              Map.of("WEFT_TOKEN", joinToken),
              "worker",
              "--join",
              port,
              "--id",
              "pinned");
      Await.until(
          "both to have tried the port",
          ProcessCluster.START_DEADLINE,
          () -> connections.get() >= 2,
          cluster::logTails);
      worker.destroy();
      pinnedWorker.destroy();
      squatter.close();
      listener.join(10_000);
      String seen;
      synchronized (received) {
        seen = received.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
      }
      for (String secret : List.of(joinToken, adminToken)) {
        String hex = secret.substring(secret.lastIndexOf('-') + 1);
        assertFalse(seen.contains(hex), "a token's secret reached the squatter");
      }
      assertFalse(seen.contains("weft.v1"), "a call reached the squatter");
    }
  }

  @Test
  void aTokenOfAnotherCoordinatorRejectsThisOnesCertificate() throws Exception {
    // The other coordinator's CA stays in its data dir; it need not run for its token to exist.
    String theirs;
    try (ProcessCluster other = new ProcessCluster()) {
      other.startCoordinatorOn("127.0.0.1", "--tls", "on");
      theirs = other.token();
    }
    Address ours = cluster.startCoordinatorOn("127.0.0.2", "--tls", "on");
    assertNotEquals(theirs, cluster.token());

    Process worker = cluster.startWorker(Map.of("WEFT_TOKEN", theirs), "stray", 1);
    assertTrue(worker.waitFor(ProcessCluster.START_DEADLINE.toSeconds(), TimeUnit.SECONDS));
    assertEquals(ExitCodes.REFUSED, worker.exitValue(), cluster::logTails);
    assertTrue(
        cluster
            .logTails()
            .contains(
                "weft worker stray stopped: the coordinator's certificate does not match the"
                    + " join token"),
        cluster::logTails);

    CliResult client = cli("jobs", "--coordinator", ours.toString(), "--token", theirs);
    assertExit(ExitCodes.REFUSED, client);
    assertTrue(
        client
            .err()
            .startsWith(
                "weft jobs: will not talk to the coordinator at "
                    + ours
                    + ": the coordinator's certificate does not match the join token"),
        client::toString);
  }

  @Test
  void rotationInvalidatesTheOldToken() throws Exception {
    Address address = cluster.startCoordinatorOn("127.0.0.2", "--tls", "on");
    String old = cluster.token();
    cluster.startWorker("before", 1);
    cluster.awaitWorkers(1);

    String dataDir = cluster.dataDir().toString();
    CliResult shown = cli("token", "show", "--data-dir", dataDir);
    assertExit(0, shown);
    assertEquals(
        "join a worker:  weft worker --join "
            + address
            + " --token "
            + old
            + "\nclients:        weft token create NAME --role read|submit|admin [--allow-exec]; the"
            + " join token is for workers only\n",
        shown.out());

    CliResult rotated = cli("token", "rotate", "--data-dir", dataDir);
    assertExit(0, rotated);
    Matcher m = TOKEN.matcher(rotated.out());
    assertTrue(m.find(), rotated::toString);
    String fresh = m.group();
    assertNotEquals(old, fresh);
    assertEquals(fresh + "\n", cli("token", "show", "--quiet", "--data-dir", dataDir).out());

    CliResult withOld = cli("jobs", "--coordinator", address.toString(), "--token", old);
    assertExit(ExitCodes.REFUSED, withOld);
    assertTrue(withOld.err().contains("the token was not accepted"), withOld::toString);
    // The fresh one is known (a worker's), and client tokens are not touched by the rotation.
    CliResult withFresh = cli("jobs", "--coordinator", address.toString(), "--token", fresh);
    assertTrue(withFresh.err().contains("join token cannot use JobService"), withFresh::toString);
    assertExit(
        0, cli("jobs", "--coordinator", address.toString(), "--token", cluster.adminToken()));

    Process late = cluster.startWorker(Map.of("WEFT_TOKEN", old), "late", 1);
    assertTrue(late.waitFor(ProcessCluster.START_DEADLINE.toSeconds(), TimeUnit.SECONDS));
    assertEquals(ExitCodes.REFUSED, late.exitValue(), cluster::logTails);
    // The worker that attached before the rotation stays attached.
    CliResult workers =
        cli(
            "workers",
            "--json",
            "--coordinator",
            address.toString(),
            "--token",
            cluster.adminToken());
    assertEquals(List.of("before"), workers.workers().stream().map(WorkerInfo::getId).toList());
  }

  @Test
  void rotationWithDetachWorkersCutsOffTheWorkersOfTheOldToken() throws Exception {
    Address address = cluster.startCoordinatorOn("127.0.0.2", "--tls", "on");
    Process leaked = cluster.startWorker("leaked", 1);
    cluster.awaitWorkers(1);
    String dataDir = cluster.dataDir().toString();

    CliResult rotated = cli("token", "rotate", "--detach-workers", "--data-dir", dataDir);
    assertExit(0, rotated);
    assertTrue(rotated.out().contains("workers attached with it are detached"), rotated::toString);
    String fresh = cli("token", "show", "--quiet", "--data-dir", dataDir).out().strip();

    assertTrue(
        leaked.waitFor(ProcessCluster.START_DEADLINE.toSeconds(), TimeUnit.SECONDS),
        cluster::logTails);
    assertEquals(ExitCodes.REFUSED, leaked.exitValue(), cluster::logTails);
    assertTrue(cluster.logTails().contains("was revoked"), cluster::logTails);
    // A worker with the new token attaches, and stays.
    cluster.startWorker(Map.of("WEFT_TOKEN", fresh), "renewed", 1);
    Await.until(
        "the renewed worker to attach",
        ProcessCluster.START_DEADLINE,
        () ->
            cli(
                    "workers",
                    "--json",
                    "--coordinator",
                    address.toString(),
                    "--token",
                    cluster.adminToken())
                .workers()
                .stream()
                .map(WorkerInfo::getId)
                .toList()
                .equals(List.of("renewed")),
        cluster::logTails);
  }

  @Test
  void ownCertificatesWithClientCertificates() throws Exception {
    TestPki users = new TestPki("weft test CA");
    Path ca = users.writeCa(pki.resolve("ca.pem"));
    users.issueServer(pki.resolve("server.pem"), pki.resolve("server.key"));
    users.issueClient(pki.resolve("client.pem"), pki.resolve("client.key"));
    Address address =
        cluster.startCoordinatorOn(
            "127.0.0.1",
            "--tls-cert",
            pki.resolve("server.pem").toString(),
            "--tls-key",
            pki.resolve("server.key").toString(),
            "--tls-client-ca",
            ca.toString(),
            "--local-workers",
            "1",
            "--local-transport",
            "grpc",
            "--local-slots",
            "1");
    assertNotNull(cluster.token(), cluster::logTails);
    assertTrue(
        cluster
            .logTails()
            .contains("--token " + cluster.token() + " --tls-cert CERT --tls-key KEY"),
        cluster::logTails);
    String[] tls = {
      "--tls-ca", ca.toString(),
      "--tls-cert", pki.resolve("client.pem").toString(),
      "--tls-key", pki.resolve("client.key").toString()
    };
    cluster.startWorker("remote", 2, tls);
    Await.until(
        "both workers to attach",
        ProcessCluster.START_DEADLINE,
        () -> {
          CliResult r =
              cli(
                  concat(
                      tls,
                      "workers",
                      "--json",
                      "--coordinator",
                      address.toString(),
                      "--token",
                      cluster.adminToken()));
          return r.exitCode() == 0 && r.workers().size() == 2;
        },
        cluster::logTails);
    CliResult sum =
        cli(
            concat(
                tls,
                "submit",
                "sum",
                "--from",
                "1",
                "--to",
                "100",
                "--tasks",
                "6",
                "--wait",
                "--json",
                "--coordinator",
                address.toString(),
                "--token",
                cluster.adminToken()));
    assertExit(0, sum);
    assertEquals("5050", sum.job().getResult().getSum().getSum());

    // The token without a client certificate: refused, saying what is missing.
    CliResult noCert = cluster.client("jobs");
    assertExit(ExitCodes.REFUSED, noCert);
    assertTrue(noCert.err().contains("requires a client certificate"), noCert::toString);
  }

  @Test
  void execTasksSeeNoneOfTheWorkersCredentials() throws Exception {
    // The local worker gets the join token in WEFT_TOKEN from the coordinator, and inherits the
    // coordinator's WEFT_SECRET_EXTRA.
    cluster.startCoordinator(
        Map.of("WEFT_SECRET_EXTRA", "secret-extra"),
        0,
        "--tls",
        "on",
        "--local-workers",
        "1",
        "--local-transport",
        "grpc",
        "--local-slots",
        "1");
    String token = cluster.token();
    assertNotNull(token, cluster::logTails);
    cluster.awaitWorkers(1);
    // Its pid as the coordinator knows it.
    long worker = cluster.workers().getFirst().getPid();
    List<String> workerEnv =
        List.of(Files.readString(Path.of("/proc", worker + "", "environ")).split("\0"));
    // A token of its own, which stands in for the join token on this host.
    String workerToken =
        workerEnv.stream()
            .filter(v -> v.startsWith("WEFT_TOKEN="))
            .map(v -> v.substring("WEFT_TOKEN=".length()))
            .findFirst()
            .orElseThrow(() -> new AssertionError("the local worker has no WEFT_TOKEN"));
    assertTrue(workerToken.length() >= 32, workerToken);
    assertTrue(workerEnv.contains("WEFT_SECRET_EXTRA=secret-extra"), "the worker holds the extra");

    // The whole of printenv's output, in a file: the 4 KiB tail of stdout could miss a line.
    Path out = cluster.dataDir().resolveSibling("task-env.txt");
    CliResult exec =
        cluster.client(
            "submit",
            "exec",
            "-e",
            "JOB_VAR=mine",
            "--args",
            out.toString(),
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "printenv > {}");
    assertExit(0, exec);
    String taskEnv = Files.readString(out);
    assertTrue(taskEnv.contains("JOB_VAR=mine\n"), taskEnv);
    assertTrue(taskEnv.contains("PATH="), taskEnv);
    assertFalse(taskEnv.contains("WEFT_"), taskEnv);
    assertFalse(taskEnv.contains(token), taskEnv);
    assertFalse(taskEnv.contains(workerToken), taskEnv);
    assertFalse(taskEnv.contains("secret-extra"), taskEnv);

    // This coordinator has no --hash-root: it reads no file for anyone, and says how to allow it.
    CliResult hash = cluster.client("submit", "hash", "--file", out.toString());
    assertExit(ExitCodes.USAGE, hash);
    assertTrue(
        hash.err().contains("hash jobs need `--hash-root DIR` on the coordinator"), hash::toString);
    assertFalse(hash.err().contains("\tat "), hash::toString);
  }

  private static String[] concat(String[] first, String... rest) {
    String[] all = new String[rest.length + first.length];
    System.arraycopy(rest, 0, all, 0, rest.length);
    System.arraycopy(first, 0, all, rest.length, first.length);
    return all;
  }
}
