package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.ExecResult;
import dev.weft.v1.Job;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobState;
import dev.weft.v1.Resources;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.SumResult;
import dev.weft.v1.TaskFailure;
import dev.weft.v1.TaskStop;
import dev.weft.v1.WorkerInfo;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Human and JSON output, the progress bar and the exit code mapping, without any process. */
final class OutputTest {
  private static final Timestamp T0 = Timestamp.newBuilder().setSeconds(1_000).build();
  private static final Timestamp T2 = Timestamp.newBuilder().setSeconds(1_002).build();

  @Test
  void finishedJobShowsStateResultAndRate() {
    Job job =
        Job.newBuilder()
            .setId("j1")
            .setKind("sum")
            .setState(JobState.SUCCEEDED)
            .setTasksTotal(100)
            .setTasksDone(100)
            .setCreated(T0)
            .setFinished(T2)
            .setResult(
                JobResult.newBuilder()
                    .setSum(SumResult.newBuilder().setSum("500000000500000000"))
                    .setSummary("500000000500000000"))
            .build();

    String text = print(out -> JobReport.finished(out, job));

    assertEquals(
        "SUCCEEDED  job j1 (sum), 100 tasks in 2.00 s, 50.0 tasks/s\n"
            + "result     500000000500000000\n",
        text);
  }

  @Test
  void failedExecJobShowsExitCodesAndOutputTails() {
    Job job =
        Job.newBuilder()
            .setId("j2")
            .setKind("exec")
            .setState(JobState.FAILED)
            .setTasksTotal(4)
            .setTasksDone(3)
            .setTasksFailed(1)
            .setError("task 2 failed: exit 7")
            .addFailures(
                TaskFailure.newBuilder()
                    .setTask(2)
                    .setAttempt(1)
                    .setWorkerId("w1")
                    .setError("exit 7"))
            .setResult(
                JobResult.newBuilder()
                    .setExec(
                        ExecResult.newBuilder()
                            .setSucceeded(3)
                            .setFailed(1)
                            .addTasks(ExecOutcome.newBuilder().setTask(0).setInput("1"))
                            .addTasks(
                                ExecOutcome.newBuilder()
                                    .setTask(2)
                                    .setInput("3")
                                    .setExitCode(7)
                                    .setStdoutTail("out-3\n")
                                    .setStderrTail("boom\n")
                                    .setDurationMs(12))))
            .build();

    String text = print(out -> JobReport.finished(out, job));

    assertTrue(text.startsWith("FAILED     job j2 (exec)\n"), text);
    assertTrue(text.contains("error      task 2 failed: exit 7\n"), text);
    assertTrue(text.contains("  task 2, attempt 1 on w1: exit 7\n"), text);
    assertTrue(text.contains("  task 2 (input 3) exited 7 after 12 ms\n"), text);
    assertTrue(text.contains("    stdout:\n      out-3\n    stderr:\n      boom\n"), text);
    assertFalse(text.contains("task 0"), text);
  }

  @Test
  void workersTableIsAligned() {
    List<WorkerInfo> workers =
        List.of(
            WorkerInfo.newBuilder()
                .setId("w1")
                .setHost("a")
                .setPid(10)
                .setSlots(2)
                .setTransport("grpc")
                .setTasksDone(5)
                .setState("ready")
                .build(),
            WorkerInfo.newBuilder()
                .setId("worker-two")
                .setHost("host-b")
                .setPid(2000)
                .setSlots(16)
                .setBusy(3)
                .setTransport("shm")
                .setState("READY")
                .setStuck(1)
                .build());

    String text = print(out -> JobReport.workers(out, workers));

    assertEquals(
        """
        ID          HOST    PID   SLOTS  BUSY  CPU  MEM  GPU  TRANSPORT  TASKS  STATE           LABELS
        w1          a       10    2      0     -    -    -    grpc       5      ready           -
        worker-two  host-b  2000  16     3     -    -    -    shm        0      ready, 1 stuck  -
        """,
        text);
  }

  @Test
  void workersShowTheirResourcesFreeOfTotalAndTheirLabels() {
    List<WorkerInfo> workers =
        List.of(
            WorkerInfo.newBuilder()
                .setId("gpu-1")
                .setHost("a")
                .setPid(10)
                .setSlots(4)
                .setBusy(2)
                .setTransport("grpc")
                .setState("ready")
                .setResourcesTotal(
                    Resources.newBuilder()
                        .setCpuMillis(4_000)
                        .setMemBytes(4L << 30)
                        .setGpus(1)
                        .putCustom("licence", 2))
                .setResourcesFree(
                    Resources.newBuilder()
                        .setCpuMillis(2_000)
                        .setMemBytes(3L << 30)
                        .putCustom("licence", 1))
                .putLabels("zone", "eu")
                .putLabels("rack", "r01")
                .build(),
            WorkerInfo.newBuilder()
                .setId("small")
                .setHost("b")
                .setPid(20)
                .setSlots(1)
                .setTransport("shm")
                .setState("ready")
                .setResourcesTotal(
                    Resources.newBuilder().setCpuMillis(1_500).setMemBytes(24L << 30))
                .setResourcesFree(Resources.newBuilder().setCpuMillis(250).setMemBytes(512L << 20))
                .build());

    String text = print(out -> JobReport.workers(out, workers));

    assertEquals(
        """
        ID     HOST  PID  SLOTS  BUSY  CPU       MEM        GPU  licence  TRANSPORT  TASKS  STATE  LABELS
        gpu-1  a     10   4      2     2/4       3.0G/4.0G  0/1  1/2      grpc       0      ready  rack=r01,zone=eu
        small  b     20   1      0     0.25/1.5  512M/24G   0/0  -        shm        0      ready  -
        """,
        text);
  }

  @Test
  void jsonIsOneLineWithProtoFieldNames() {
    Job job = Job.newBuilder().setId("j1").setState(JobState.RUNNING).setTasksTotal(3).build();

    String json = JsonOutput.of(job);

    assertFalse(json.contains("\n"));
    assertTrue(json.startsWith("{\"id\":\"j1\""), json);
    assertTrue(json.contains("\"state\":\"RUNNING\""), json);
    assertTrue(json.contains("\"tasks_total\":3"), json);
    assertTrue(json.contains("\"tasks_done\":0"), json);
    assertFalse(json.contains("\"result\""), "no result before the job finishes: " + json);
    assertEquals("[]", JsonOutput.array(List.of()));
    assertEquals("[" + json + "," + json + "]", JsonOutput.array(List.of(job, job)));
  }

  @Test
  void progressBarShowsCountRateAndEta() {
    long[] now = {0};
    StringWriter err = new StringWriter();
    ProgressBar bar = new ProgressBar(new PrintWriter(err), () -> now[0]);

    bar.progress(0, 0, 2, 100);
    now[0] = 2_000_000_000L;
    bar.progress(50, 0, 2, 100);
    now[0] += 10_000_000L; // 10 ms later: too soon to redraw
    bar.progress(51, 0, 2, 100);

    String[] frames = err.toString().split("\r");
    assertEquals(3, frames.length, err.toString()); // "", frame 1, frame 2
    assertTrue(frames[2].startsWith("[###############...............] 50/100 tasks"), frames[2]);
    assertTrue(frames[2].contains("25.0 tasks/s"), frames[2]);
    assertTrue(frames[2].contains("ETA 2s"), frames[2]);

    bar.clear();
    assertTrue(err.toString().endsWith("\r\u001b[K"));
  }

  @Test
  void exitCodes() {
    assertEquals(0, ExitCodes.forJob(JobState.SUCCEEDED));
    assertEquals(0, ExitCodes.forJob(JobState.RUNNING));
    assertEquals(1, ExitCodes.forJob(JobState.FAILED));
    assertEquals(1, ExitCodes.forJob(JobState.CANCELLED));
    assertEquals(1, ExitCodes.forJob(JobState.CANCELLING));
    assertEquals(2, ExitCodes.forStatus(Status.Code.INVALID_ARGUMENT));
    assertEquals(2, ExitCodes.forStatus(Status.Code.NOT_FOUND));
    assertEquals(3, ExitCodes.forStatus(Status.Code.UNAVAILABLE));
    assertEquals(3, ExitCodes.forStatus(Status.Code.DEADLINE_EXCEEDED));
    assertEquals(70, ExitCodes.forStatus(Status.Code.INTERNAL));
  }

  private static String print(Consumer<PrintWriter> printer) {
    StringWriter text = new StringWriter();
    PrintWriter out = new PrintWriter(text);
    printer.accept(out);
    out.flush();
    return text.toString().replace(System.lineSeparator(), "\n");
  }

  @Test
  void detailsOfARunningJob() {
    Job job =
        Job.newBuilder()
            .setId("j3")
            .setKind("sleep")
            .setState(JobState.RUNNING)
            .setTasksTotal(8)
            .setTasksDone(2)
            .setCreated(T0)
            .build();

    String text =
        print(out -> JobReport.details(out, job, Instant.ofEpochSecond(T0.getSeconds() + 65)));

    assertTrue(text.contains("state      RUNNING\n"), text);
    assertTrue(text.contains("progress   2/8\n"), text);
    assertTrue(text.contains("(65s ago)"), text);
    assertFalse(text.contains("wall time"), text);
  }

  private static TaskStop stop(int task, String worker, StopOutcome outcome, long ms) {
    return TaskStop.newBuilder()
        .setTask(task)
        .setAttempt(1)
        .setWorkerId(worker)
        .setOutcome(outcome)
        .setStopMs(ms)
        .build();
  }

  @Test
  void cancelledJobShowsItsReasonAndHowItsRunningTasksStopped() {
    Job job =
        Job.newBuilder()
            .setId("j4")
            .setKind("exec")
            .setState(JobState.CANCELLED)
            .setTasksTotal(12)
            .setTasksDone(4)
            .setCreated(T0)
            .setFinished(T2)
            .setError("cancelled with Ctrl-C")
            .addStops(stop(5, "w2", StopOutcome.KILLED, 2004))
            .addStops(stop(4, "w1", StopOutcome.EXITED_ON_TERM, 12))
            .addStops(stop(6, "w1", StopOutcome.EXITED_ON_TERM, 15))
            .setTasksStopped(3)
            .setTasksNeverStarted(5)
            .build();

    String finished = print(out -> JobReport.finished(out, job));
    String details = print(out -> JobReport.details(out, job, Instant.ofEpochSecond(1_010)));

    assertEquals(
        "CANCELLED  job j4 (exec), 12 tasks in 2.00 s, 2.0 tasks/s\n"
            + "reason     cancelled with Ctrl-C\n"
            + "stops      3 running tasks stopped: 2 exited on SIGTERM, 1 killed after the grace"
            + " period; 5 never started\n",
        finished);
    assertTrue(
        details.endsWith(
            """
            stopped tasks (3):
              TASK  ATTEMPT  WORKER  OUTCOME                        MS    DETAIL
              4     1        w1      exited on SIGTERM              12
              5     1        w2      killed after the grace period  2004
              6     1        w1      exited on SIGTERM              15
            """),
        details);
  }

  @Test
  void cancellingJobSaysHowManyTasksAreStillStopping() {
    Job job =
        Job.newBuilder()
            .setId("j5")
            .setKind("sleep")
            .setState(JobState.CANCELLING)
            .setTasksTotal(8)
            .setTasksDone(2)
            .setTasksRunning(3)
            .setError("cancelled with weft cancel")
            .addStops(stop(2, "w1", StopOutcome.STOPPED, 3))
            .setTasksStopped(1)
            .setTasksNeverStarted(2)
            .build();

    String text = print(out -> JobReport.details(out, job, Instant.ofEpochSecond(1_010)));
    String table = print(out -> JobReport.jobs(out, List.of(job), Instant.ofEpochSecond(1_010)));

    assertTrue(text.contains("state      CANCELLING\n"), text);
    assertTrue(text.contains("progress   2/8 (3 stopping)\n"), text);
    assertTrue(
        text.contains(
            "stops      waiting for 3 running tasks to stop; 1 stopped so far: 1 stopped when"
                + " asked; 2 never started\n"),
        text);
    assertTrue(table.contains("CANCELLING"), table);
    assertTrue(JsonOutput.of(job).contains("\"state\":\"CANCELLING\""));
    assertTrue(JsonOutput.of(job).contains("\"tasks_never_started\":2"));
  }

  @Test
  void stopSummaryCoversEveryOutcomeAndOnlyCancelledOrTimedOutJobs() {
    Job.Builder job = Job.newBuilder().setId("j6").setState(JobState.FAILED).setTasksTotal(6);
    assertEquals("", StopReport.summary(job.build()), "a job that failed on its own");

    for (StopOutcome outcome : StopOutcome.values()) {
      if (outcome != StopOutcome.UNRECOGNIZED) {
        job.addStops(stop(outcome.getNumber(), "w1", outcome, 1));
      }
    }
    job.setTasksStopped(job.getStopsCount()).setError("timed out after 1 s");

    assertEquals(
        "7 running tasks stopped: 1 ended (no outcome given), 1 stopped when asked, 1 exited on"
            + " SIGTERM, 1 killed after the grace period, 1 stuck past the grace period, 1 lost"
            + " with the worker, 1 no answer from the worker",
        StopReport.summary(job.build()));
    assertEquals(
        "no task was running; 8 never started",
        StopReport.summary(
            Job.newBuilder().setState(JobState.CANCELLED).setTasksNeverStarted(8).build()));
  }

  @Test
  void stoppedTasksAreCappedWithACountOfTheRest() {
    Job.Builder job =
        Job.newBuilder().setId("j7").setState(JobState.CANCELLED).setTasksStopped(1500);
    for (int task = 0; task < 1000; task++) {
      job.addStops(stop(task, "w1", StopOutcome.EXITED_ON_TERM, 5));
    }

    String text = print(out -> StopReport.tasks(out, job.build()));

    List<String> lines = text.lines().toList();
    assertEquals("stopped tasks (1500):", lines.getFirst());
    assertEquals(2 + StopReport.MAX_TASKS_SHOWN + 1, lines.size(), text);
    assertEquals("  ... and 1480 more (weft status j7 --json has the first 1000)", lines.getLast());
    assertEquals(
        "1500 running tasks stopped (first 1000: 1000 exited on SIGTERM)",
        StopReport.summary(job.build()));
  }

  @Test
  void progressBarSaysWhenTheJobIsCancelling() {
    StringWriter err = new StringWriter();
    ProgressBar bar = new ProgressBar(new PrintWriter(err), () -> 0L);

    bar.progress(1, 0, 2, 4);
    bar.state(JobState.CANCELLING);
    bar.progress(1, 0, 1, 4); // at the same instant: drawn all the same

    String[] frames = err.toString().split("\r");
    assertTrue(
        frames[frames.length - 2].startsWith(
            "[#######.......................] 1/4 tasks  cancelling: 2 still stopping"),
        err.toString());
    assertTrue(
        frames[frames.length - 1].startsWith(
            "[#######.......................] 1/4 tasks  cancelling: 1 still stopping"),
        err.toString());
  }
}
