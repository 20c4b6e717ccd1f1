package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** weft logs and weft results against a real coordinator and worker. */
final class TaskLogsEndToEndTest {
  private static final Duration DEADLINE = Duration.ofSeconds(60);
  private static final Pattern TOKEN = Pattern.compile("weft1-[0-9a-f]{64}-[0-9a-f]{32}");

  private ProcessCluster cluster;

  @BeforeEach
  void start() throws IOException {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  private static void assertExit(int expected, CliResult result) {
    assertEquals(expected, result.exitCode(), result::toString);
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new AssertionError("cannot read " + file, e);
    }
  }

  // The log messages travel on every link a worker can have.
  @ParameterizedTest
  @ValueSource(strings = {"pipe", "shm", "grpc"})
  void logsFollowARunningTaskAndResultsMatchItsOutputByteForByte(String transport)
      throws Exception {
    cluster.startCoordinator(
        0,
        "--tls",
        "on",
        "--local-workers",
        "1",
        "--local-slots",
        "2",
        "--local-transport",
        transport);
    assertNotNull(cluster.adminToken(), cluster::logTails);
    cluster.awaitWorkers(1);
    // A shared-memory link comes after the worker attached on its pipes.
    Await.until(
        "the worker to use " + transport,
        DEADLINE,
        () -> cluster.workers().getFirst().getTransport().equals(transport),
        cluster::logTails);
    Path work = cluster.dataDir().resolveSibling("work");
    Files.createDirectories(work);

    // Follow: a line, a wait for a file only the test creates, another line.
    Path gate = work.resolve("gate");
    CliResult running =
        cluster.client(
            "submit",
            "exec",
            "--json",
            "--",
            "sh",
            "-c",
            "echo first; while [ ! -e " + gate + " ]; do sleep 0.05; done; echo second");
    assertExit(0, running);
    String runningId = running.job().getId();
    ProcessCluster.RunningCli follow = cluster.startClientProcess("logs", runningId, "-f");
    Await.until(
        "weft logs -f to print the first line",
        DEADLINE,
        () -> read(follow.out()).equals("first\n"),
        () -> follow.errSoFar() + cluster.logTails());
    assertTrue(follow.process().isAlive(), "it follows while the task waits");
    Files.createFile(gate);
    CliResult followed = follow.await();
    assertExit(0, followed);
    assertEquals("first\nsecond\n", read(follow.out()));

    // Results: each task's streams as it wrote them (binary stdout, a copy kept by the task).
    CliResult job =
        cluster.client(
            "submit",
            "exec",
            "--tasks",
            "3",
            "--max-attempts",
            "1",
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "head -c 300000 /dev/urandom > "
                + work
                + "/expected-{}; cat "
                + work
                + "/expected-{}; echo err {} >&2; exit {}");
    String id = job.job().getId();
    Path results = work.resolve("results");
    CliResult written = cluster.client("results", id, "--dir", results.toString());
    assertExit(0, written);
    for (int task = 0; task < 3; task++) {
      Path dir = results.resolve(Integer.toString(task));
      assertArrayEquals(
          Files.readAllBytes(work.resolve("expected-" + task)),
          Files.readAllBytes(dir.resolve("stdout")),
          "task " + task + " stdout");
      assertEquals("err " + task + "\n", read(dir.resolve("stderr")));
      assertEquals(task + "\n", read(dir.resolve("exit")));
    }
    try (var listed = Files.list(results)) {
      assertEquals(3, listed.count(), "one directory per task");
    }

    // Errors say what is wrong.
    CliResult noTask = cluster.client("logs", id, "--task", "3");
    assertExit(ExitCodes.USAGE, noTask);
    assertTrue(noTask.err().contains("there is no task 3"), noTask::toString);
    CliResult noJob = cluster.client("logs", "jnosuchjob");
    assertTrue(noJob.err().contains("not found"), noJob::toString);

    // A read token of another owner sees the job but not its exec logs.
    CliResult created =
        ProcessCluster.cli(
            "token",
            "create",
            "reader",
            "--role",
            "read",
            "--data-dir",
            cluster.dataDir().toString());
    assertExit(0, created);
    Matcher token = TOKEN.matcher(created.out());
    assertTrue(token.find(), created::toString);
    CliResult status = cluster.client("status", id, "--token", token.group());
    assertExit(ExitCodes.JOB_FAILED, status); // it may read the job: two of its tasks failed
    CliResult refused = cluster.client("logs", id, "--token", token.group());
    assertFalse(refused.exitCode() == 0, refused::toString);
    assertTrue(
        refused.err().contains("are for its owner") && refused.err().contains("and admins"),
        refused::toString);
    CliResult refusedResults =
        cluster.client(
            "results", id, "--dir", work.resolve("theirs").toString(), "--token", token.group());
    assertFalse(refusedResults.exitCode() == 0, refusedResults::toString);
    assertTrue(refusedResults.err().contains("are for its owner"), refusedResults::toString);
  }

  @Test
  void aTaskThatHasNotRunHasNoLogAndAGoneWorkerSaysWhereItsLogsWere() throws Exception {
    cluster.startCoordinator(0);
    Process worker = cluster.startWorker("w1", 1);
    cluster.awaitWorkers(1);
    CliResult done = cluster.client("submit", "exec", "--wait", "--json", "--", "echo", "hello");
    assertExit(0, done);
    String id = done.job().getId();
    CliResult waiting =
        cluster.client("submit", "exec", "--on", "nobody", "--json", "--", "echo", "never");
    assertExit(0, waiting);
    CliResult notRun = cluster.client("logs", waiting.job().getId());
    assertFalse(notRun.exitCode() == 0, notRun::toString);
    assertTrue(notRun.err().contains("has not run yet"), notRun::toString);
    worker.destroy();
    assertTrue(worker.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
    Await.until(
        "the worker to be gone",
        DEADLINE,
        () -> cluster.client("workers", "--json").workers().isEmpty(),
        cluster::logTails);
    CliResult gone = cluster.client("logs", id);
    assertFalse(gone.exitCode() == 0, gone::toString);
    assertTrue(
        gone.err().contains("worker w1")
            && gone.err().contains("no longer kept")
            && gone.err().contains(cluster.stateHome().toString()),
        gone::toString);
  }
}
