package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskLogChunk;
import dev.weft.v1.TaskLogsRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** weft submit exec --wait --tag against a real coordinator and worker. */
final class TagEndToEndTest {
  private static final Duration DEADLINE = Duration.ofSeconds(60);

  private ProcessCluster cluster;
  private long stopped = -1;

  @BeforeEach
  void start() throws Exception {
    cluster = new ProcessCluster();
    cluster.startCoordinator(0, "--local-workers", "1", "--local-slots", "3");
    cluster.awaitWorkers(1);
  }

  @AfterEach
  void stop() throws Exception {
    if (stopped > 0) {
      ProcessHandle.of(stopped).ifPresent(p -> TaskProcesses.signal(stopped, "CONT"));
    }
    cluster.close();
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new AssertionError("cannot read " + file, e);
    }
  }

  private Path work() throws IOException {
    return Files.createDirectories(cluster.dataDir().resolveSibling("work"));
  }

  /** The one job the cluster has, as the coordinator sees it now. */
  private Job onlyJob() {
    List<Job> jobs = cluster.client("jobs", "--json").jobs();
    assertEquals(1, jobs.size(), jobs::toString);
    return cluster.client("status", jobs.getFirst().getId(), "--json").job();
  }

  @Test
  void everyLineComesTaggedWithItsInputWhileTheJobRuns() throws Exception {
    Path gate = work().resolve("gate");
    // Each task writes a line to each stream, waits for the gate, then writes two more slowly.
    ProcessCluster.RunningCli tag =
        cluster.startClientProcess(
            "submit",
            "exec",
            "--args",
            "a",
            "b b",
            "c",
            "--wait",
            "--tag",
            "--",
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i-{}; echo err$i-{} >&2;"
                + " if [ $i = 1 ]; then while [ ! -e "
                + gate
                + " ]; do sleep 0.05; done; fi; sleep 0.2; done");
    Await.until(
        "the first line of every task",
        DEADLINE,
        () -> {
          String out = read(tag.out());
          return out.contains("a\tline1-a\n")
              && out.contains("b b\tline1-b b\n")
              && out.contains("c\tline1-c\n");
        },
        () -> read(tag.out()) + tag.errSoFar() + cluster.logTails());
    assertEquals(JobState.RUNNING, onlyJob().getState(), "the lines came while the job ran");
    assertTrue(tag.process().isAlive());
    Await.until(
        "the first stderr line of every task",
        DEADLINE,
        () -> tag.errSoFar().lines().filter(l -> l.contains("\terr1-")).count() == 3,
        () -> tag.errSoFar() + cluster.logTails());
    Files.createFile(gate);

    CliResult done = tag.await();

    ProcessCluster.assertExit(0, done);
    List<String> out = done.out().lines().toList();
    for (String input : List.of("a", "b b", "c")) {
      List<String> task = out.stream().filter(l -> l.startsWith(input + "\t")).toList();
      assertEquals(
          List.of(
              input + "\tline1-" + input, input + "\tline2-" + input, input + "\tline3-" + input),
          task,
          done::toString);
      List<String> err = done.err().lines().filter(l -> l.startsWith(input + "\t")).toList();
      assertEquals(
          List.of(input + "\terr1-" + input, input + "\terr2-" + input, input + "\terr3-" + input),
          err,
          done::toString);
    }
    // Then what --wait prints, after the last line of output.
    assertEquals(9, out.stream().takeWhile(l -> l.contains("\t")).count(), done::toString);
    assertTrue(out.get(9).startsWith("SUCCEEDED  job "), done::toString);
    assertTrue(out.stream().noneMatch(l -> l.contains("\terr")), done::toString);
    assertEquals(9, done.err().lines().count(), () -> "stderr has the task lines only; " + done);

    // A reader resumes a stream at the offset it reached (as --tag does after a broken call).
    String id = onlyJob().getId();
    ManagedChannel channel = cluster.channelBuilder().build();
    try {
      JobServiceGrpc.JobServiceBlockingStub jobs = JobServiceGrpc.newBlockingStub(channel);
      TaskLogsRequest request =
          TaskLogsRequest.newBuilder()
              .setJobId(id)
              .setTask(0)
              .setOffset("line1-a\n".length())
              .build();
      StringBuilder rest = new StringBuilder();
      long first = -1;
      for (Iterator<TaskLogChunk> chunks =
              jobs.withDeadlineAfter(30, TimeUnit.SECONDS).taskLogs(request);
          chunks.hasNext(); ) {
        TaskLogChunk chunk = chunks.next();
        first = first < 0 ? chunk.getOffset() : first;
        rest.append(chunk.getData().toStringUtf8());
      }
      assertEquals("line2-a\nline3-a\n", rest.toString());
      assertEquals("line1-a\n".length(), first);
      StatusRuntimeException negative =
          assertThrows(
              StatusRuntimeException.class,
              () ->
                  jobs.withDeadlineAfter(30, TimeUnit.SECONDS)
                      .taskLogs(request.toBuilder().setOffset(-1).build())
                      .hasNext());
      assertEquals(Status.Code.INVALID_ARGUMENT, negative.getStatus().getCode());
      assertEquals("offset must not be negative, got -1", negative.getStatus().getDescription());
    } finally {
      channel.shutdownNow();
      channel.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aTaskWithoutInputIsTaggedWithItsNumberAndAFailedJobExitsAsWaitDoes() throws Exception {
    CliResult done =
        cluster.clientProcess(
            "submit",
            "exec",
            "--tasks",
            "2",
            "--max-attempts",
            "1",
            "--wait",
            "--tag",
            "--",
            "sh",
            "-c",
            "printf 'out {}'; exit {}");

    ProcessCluster.assertExit(ExitCodes.JOB_FAILED, done);
    List<String> out = done.out().lines().toList();
    assertEquals(
        List.of("0\tout 0", "1\tout 1"),
        out.stream().filter(l -> l.contains("\t")).sorted().toList(),
        () -> "an unfinished last line gets its newline; " + done);
    assertTrue(out.get(2).startsWith("FAILED  "), done::toString);
  }

  /**
   * Stopped with SIGSTOP while its tasks write, the reader loses nothing once continued, and the
   * coordinator serves others meanwhile (the calls of a stopped reader wait in their own outboxes).
   */
  @Test
  void aStoppedReaderLosesNothingAndOthersAreServedMeanwhile() throws Exception {
    Path work = work();
    Path gate = work.resolve("gate");
    // Each task writes a numbered line every 10 ms until the gate opens, and keeps a copy.
    ProcessCluster.RunningCli tag =
        cluster.startClientProcess(
            "submit",
            "exec",
            "--args",
            "x",
            "y",
            "--wait",
            "--tag",
            "--",
            "sh",
            "-c",
            "i=0; while [ ! -e "
                + gate
                + " ]; do i=$((i+1)); echo {}-$i; sleep 0.01; done | tee "
                + work
                + "/expected-{}");
    Await.until(
        "both tasks' first lines",
        DEADLINE,
        () -> read(tag.out()).contains("x\tx-1\n") && read(tag.out()).contains("y\ty-1\n"),
        () -> read(tag.out()) + tag.errSoFar() + cluster.logTails());

    stopped = tag.process().pid();
    TaskProcesses.signal(stopped, "STOP");
    long linesAtStop = read(work.resolve("expected-x")).lines().count();
    // While it is stopped the tasks write for longer than the worker may send ahead of the reader
    // (it reads a chunk per poll, and the window is some dozens of chunks).
    Await.until(
        "task x to write 500 more lines",
        DEADLINE,
        () -> read(work.resolve("expected-x")).lines().count() >= linesAtStop + 500);
    String id = onlyJob().getId();
    CliResult other = cluster.clientProcess("logs", id, "--task", "1");
    ProcessCluster.assertExit(0, other);
    assertTrue(other.out().startsWith("y-1\ny-2\n"), other::toString);
    assertEquals(JobState.RUNNING, onlyJob().getState());
    TaskProcesses.signal(stopped, "CONT");
    stopped = -1;
    Files.createFile(gate);

    CliResult done = tag.await();

    ProcessCluster.assertExit(0, done);
    for (String input : List.of("x", "y")) {
      List<String> expected =
          read(work.resolve("expected-" + input)).lines().map(l -> input + "\t" + l).toList();
      List<String> printed = done.out().lines().filter(l -> l.startsWith(input + "\t")).toList();
      assertTrue(expected.size() > 500, "task " + input + " wrote " + expected.size() + " lines");
      assertEquals(expected, printed, "task " + input + ": every line, once, in order");
    }
  }
}
