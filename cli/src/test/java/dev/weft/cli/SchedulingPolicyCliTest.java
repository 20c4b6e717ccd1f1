package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static dev.weft.cli.ProcessCluster.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import dev.weft.v1.Dependency;
import dev.weft.v1.ExitCodeRange;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/**
 * What the CLI makes of task timeouts, retry policies and dependencies without a coordinator: the
 * options and what they refuse (before connecting), and how waiting jobs and retried failures read.
 */
final class SchedulingPolicyCliTest {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

  /** {@code weft submit sleep --ms 1 ARGS} against no coordinator: refused before connecting. */
  private static CliResult submit(String... args) {
    String[] all = new String[args.length + 4];
    all[0] = "submit";
    all[1] = "sleep";
    all[2] = "--ms";
    all[3] = "1";
    System.arraycopy(args, 0, all, 4, args.length);
    return cli(all);
  }

  private static void assertUsage(String message, CliResult r) {
    assertExit(2, r);
    assertTrue(r.err().contains(message), r::toString);
    assertEquals(1, r.err().lines().count(), () -> "one line; " + r);
  }

  @Test
  void badRetryAndTimeoutOptionsAreUsageErrorsNamingTheOption() {
    assertUsage("--task-timeout must be more than 0s", submit("--task-timeout", "0s"));
    assertUsage("'-1s' is negative", submit("--retry-delay=-1s"));
    assertUsage(
        "--retry-backoff must be a number of 1 or more, got 0.5",
        submit("--retry-delay", "1s", "--retry-backoff", "0.5"));
    assertUsage(
        "--retry-backoff needs a --retry-delay of more than 0s", submit("--retry-backoff", "2"));
    assertUsage(
        "--max-retry-delay needs a --retry-delay of more than 0s",
        submit("--max-retry-delay", "1m"));
    assertUsage(
        "--max-retry-delay (5s) must be at least --retry-delay (10s)",
        submit("--retry-delay", "10s", "--max-retry-delay", "5s"));
    assertUsage(
        "Invalid value for option '--no-retry-exit-codes' (CODES): '300': exit codes are 0..255",
        submit("--no-retry-exit-codes", "2,300"));
    assertUsage(
        "'78-64': a range goes from its lower code to its higher one, as in 64-78",
        submit("--no-retry-exit-codes", "78-64"));
    assertUsage(
        "'two' is not an exit code or a range of them; write for example 2,64-78",
        submit("--no-retry-exit-codes", "two"));
  }

  @Test
  void badDependenciesAreUsageErrors() {
    assertUsage(
        "Invalid value for option '--after' (JOB[:ok|:any]): 'jabc:maybe': write JOB, JOB:ok (run only if JOB"
            + " succeeded) or JOB:any (run whatever its end)",
        submit("--after", "jabc:maybe"));
    assertUsage("':any': write JOB, JOB:ok", submit("--after", ":any"));
  }

  @Test
  void dependenciesAndExitCodeRangesParse() {
    DependencyConverter after = new DependencyConverter();
    assertEquals(Dependency.newBuilder().setJobId("ja").build(), after.convert("ja"));
    assertEquals(Dependency.newBuilder().setJobId("ja").build(), after.convert("ja:ok"));
    assertEquals(
        Dependency.newBuilder().setJobId("ja").setAny(true).build(), after.convert("ja:any"));
    ExitCodeRangeConverter codes = new ExitCodeRangeConverter();
    assertEquals(ExitCodeRange.newBuilder().setFrom(2).setTo(2).build(), codes.convert("2"));
    assertEquals(ExitCodeRange.newBuilder().setFrom(64).setTo(78).build(), codes.convert("64-78"));
    assertEquals(
        "'1-2-3' is not an exit code or a range of them; write for example 2,64-78",
        org.junit.jupiter.api.Assertions.assertThrows(
                TypeConversionException.class, () -> codes.convert("1-2-3"))
            .getMessage());
  }

  @Test
  void helpNamesTheNewOptions() {
    CliResult r = cli("submit", "exec", "--help");
    assertExit(0, r);
    for (String option :
        new String[] {
          "--task-timeout",
          "--retry-delay",
          "--retry-backoff",
          "--max-retry-delay",
          "--no-retry-exit-codes",
          "--after=JOB[:ok|:any]"
        }) {
      assertTrue(r.out().contains(option), option + " in\n" + r.out());
    }
    assertTrue(r.out().replaceAll("\\s+", " ").contains("as --retry-on-error does"), r.out());
  }

  private static String print(Consumer<PrintWriter> printer) {
    StringWriter text = new StringWriter();
    PrintWriter out = new PrintWriter(text);
    printer.accept(out);
    out.flush();
    return text.toString().replace(System.lineSeparator(), "\n");
  }

  private static Timestamp at(long seconds) {
    return Timestamp.newBuilder().setSeconds(seconds).build();
  }

  @Test
  void aWaitingJobSaysWhatItWaitsFor() {
    Job job =
        Job.newBuilder()
            .setId("jb")
            .setKind("sum")
            .setState(JobState.WAITING)
            .setTasksTotal(4)
            .setCreated(at(1_000))
            .setWaitingReason("until job ja succeeds")
            .build();

    assertEquals(
        "submitted job jb (sum, 4 tasks, WAITING)\n"
            + "waiting until job ja succeeds\n"
            + "follow it with: weft status jb\n",
        print(out -> JobReport.submitted(out, job)));
    String details = print(out -> JobReport.details(out, job, Instant.ofEpochSecond(1_005)));
    assertTrue(
        details.contains("state      WAITING\nprogress   0/4\nwaiting    until job ja succeeds\n"),
        details);
    assertEquals(0, ExitCodes.forJob(JobState.WAITING));
  }

  @Test
  void aJobFailedAtSubmitByItsDependencySaysWhy() {
    Job job =
        Job.newBuilder()
            .setId("jb")
            .setKind("sum")
            .setState(JobState.FAILED)
            .setTasksTotal(1)
            .setError("job ja it depends on (--after ja) ended FAILED: boom")
            .build();
    assertEquals(
        "submitted job jb (sum, 1 tasks, FAILED)\n"
            + "error: job ja it depends on (--after ja) ended FAILED: boom\n"
            + "follow it with: weft status jb\n",
        print(out -> JobReport.submitted(out, job)));
  }

  @Test
  void retriedFailuresShowWhenTheyFailedAndWhenTheyRunAgain() {
    Job job =
        Job.newBuilder()
            .setId("jr")
            .setKind("exec")
            .setState(JobState.RUNNING)
            .setTasksTotal(1)
            .setCreated(at(1_000))
            .setWaitingReason("1 task waits to be retried; the next runs again at ...")
            .addFailures(
                TaskFailure.newBuilder()
                    .setTask(0)
                    .setAttempt(1)
                    .setWorkerId("w1")
                    .setError("exit 3")
                    .setExitCode(3)
                    .setTime(at(1_001))
                    .setRetryAt(at(1_003)))
            .build();

    String details = print(out -> JobReport.details(out, job, Instant.ofEpochSecond(1_002)));

    assertTrue(
        details.contains(
            "failed attempts (1 tasks):\n  task 0, attempt 1 on w1 at "
                + TIME.format(Instant.ofEpochSecond(1_001))
                + ": exit 3; retried at "
                + TIME.format(Instant.ofEpochSecond(1_003))
                + "\n"),
        details);
    assertTrue(details.contains("waiting    1 task waits to be retried"), details);
  }

  @Test
  void progressBarSaysWhenTheJobWaits() {
    StringWriter err = new StringWriter();
    ProgressBar bar = new ProgressBar(new PrintWriter(err), () -> 0L);

    bar.state(JobState.WAITING);
    bar.progress(0, 0, 0, 4);
    bar.state(JobState.QUEUED);

    String[] frames = err.toString().split("\r");
    assertTrue(
        frames[frames.length - 2].startsWith(
            "[..............................] 0/4 tasks  waiting for the jobs it depends on"),
        err.toString());
    assertTrue(
        frames[frames.length - 1].startsWith("[..............................] 0/4 tasks\u001b"),
        err.toString());
  }
}
