package dev.weft.cli;

import dev.weft.v1.TaskLogStream;
import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code weft logs JOB [--task N] [--follow] [--stderr]}. */
@Command(
    name = "logs",
    mixinStandardHelpOptions = true,
    description = {
      "Print the output of an exec task's latest attempt, as the worker that ran it keeps it (the"
          + " newest --task-log-bytes of each stream, for --log-retention after it was written)."
          + " The bytes go to stdout as the task wrote them.",
      "Only the job's owner and admins may read an exec job's logs. Exits 2 for an unknown job or"
          + " task, 3 when the coordinator cannot be reached; a task that has not run, or whose"
          + " worker is gone or no longer keeps its log, is an error that says so.",
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft logs j2r65gt3j8a",
      "  weft logs j2r65gt3j8a --task 3 --stderr",
      "  weft logs j2r65gt3j8a -f",
    })
final class LogsCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Parameters(index = "0", paramLabel = "JOB", description = "The job's id.")
  private String id;

  @Option(
      names = "--task",
      paramLabel = "N",
      defaultValue = "0",
      description = "The task's index (default: ${DEFAULT-VALUE}).")
  private int task;

  @Option(
      names = {"--follow", "-f"},
      description = "Keep printing what the task writes until its attempt ends.")
  private boolean follow;

  @Option(names = "--stderr", description = "The task's stderr instead of its stdout.")
  private boolean stderr;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() throws IOException {
    // Raw bytes: the task's output need not be text in any encoding.
    PrintStream out = System.out;
    try (CoordinatorClient coordinator = client.connect()) {
      TaskLogReader.Copied copied =
          TaskLogReader.copy(
              coordinator,
              id,
              task,
              stderr ? TaskLogStream.TASK_LOG_STDERR : TaskLogStream.TASK_LOG_STDOUT,
              follow,
              out);
      if (copied.firstOffset() > 0) {
        spec.commandLine()
            .getErr()
            .printf(
                "weft logs: the first %d bytes are no longer kept (worker %s keeps the newest)%n",
                copied.firstOffset(), copied.workerId());
        spec.commandLine().getErr().flush();
      }
    }
    return ExitCodes.OK;
  }
}
