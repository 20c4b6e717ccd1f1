package dev.weft.cli;

import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.TaskLogStream;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code weft results JOB --dir DIR}. */
@Command(
    name = "results",
    mixinStandardHelpOptions = true,
    description = {
      "Write each task's output of an exec job into a directory, as GNU parallel --results does:"
          + " DIR/TASK/stdout and DIR/TASK/stderr (the task's streams as its worker kept them) and"
          + " DIR/TASK/exit (its exit code and a newline, once it has one), TASK being the task's"
          + " index from 0. Existing files are replaced.",
      "Exits 0 when every task's files were written, 1 when some task's logs could not be read"
          + " (each said on stderr), 2 for an unknown job.",
    },
    footerHeading = "%n",
    footer = {"Examples:", "  weft results j2r65gt3j8a --dir out"})
final class ResultsCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Parameters(index = "0", paramLabel = "JOB", description = "The job's id.")
  private String id;

  @Option(
      names = "--dir",
      paramLabel = "DIR",
      required = true,
      description = "Where to write the tasks' files (created if missing).")
  private Path dir;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    int missed = 0;
    try (CoordinatorClient coordinator = client.connect()) {
      Job job = coordinator.get(id);
      Map<Integer, Integer> exits = new HashMap<>();
      for (ExecOutcome outcome : job.getResult().getExec().getTasksList()) {
        exits.put(outcome.getTask(), outcome.getExitCode());
      }
      for (int task = 0; task < job.getTasksTotal(); task++) {
        Path taskDir = dir.resolve(Integer.toString(task));
        Files.createDirectories(taskDir);
        try {
          write(coordinator, task, TaskLogStream.TASK_LOG_STDOUT, taskDir.resolve("stdout"), err);
          write(coordinator, task, TaskLogStream.TASK_LOG_STDERR, taskDir.resolve("stderr"), err);
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) {
            throw e;
          }
          err.println("weft results: task " + task + ": " + e.getStatus().getDescription());
          missed++;
        }
        Integer exit = exits.get(task);
        if (exit != null) {
          Files.writeString(taskDir.resolve("exit"), exit + "\n", StandardCharsets.US_ASCII);
        }
      }
    }
    err.flush();
    return missed == 0 ? ExitCodes.OK : ExitCodes.JOB_FAILED;
  }

  private void write(
      CoordinatorClient coordinator, int task, TaskLogStream stream, Path file, PrintWriter err)
      throws IOException {
    // Written beside and moved into place: a failed read never leaves half a file as the result.
    Path partial = file.resolveSibling(file.getFileName() + ".partial");
    TaskLogReader.Copied copied;
    try (OutputStream out = Files.newOutputStream(partial)) {
      copied = TaskLogReader.copy(coordinator, id, task, stream, false, out);
    } catch (RuntimeException e) {
      Files.deleteIfExists(partial);
      throw e;
    }
    Files.move(partial, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    if (copied.firstOffset() > 0) {
      err.println(
          "weft results: task "
              + task
              + " "
              + file.getFileName()
              + ": the first "
              + copied.firstOffset()
              + " bytes are no longer kept");
    }
  }
}
