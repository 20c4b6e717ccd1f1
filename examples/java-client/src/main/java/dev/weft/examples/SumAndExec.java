package dev.weft.examples;

import dev.weft.client.JobFailedException;
import dev.weft.client.JobHandle;
import dev.weft.client.Jobs;
import dev.weft.client.WeftClient;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Connects to a weft coordinator, runs a sum job and an exec job side by side, and prints their
 * results. Run it where the {@code weft} command works: it finds the coordinator and credentials as
 * the command does ({@code WEFT_COORDINATOR}, {@code WEFT_TOKEN}, the config file, or this user's
 * own coordinator on this host).
 */
public final class SumAndExec {
  private SumAndExec() {}

  public static void main(String[] args) throws Exception {
    try (WeftClient weft = WeftClient.connect()) {
      run(weft, System.out);
    }
  }

  /** The example proper: submits both jobs, then waits for each. */
  public static void run(WeftClient weft, PrintStream out)
      throws InterruptedException, ExecutionException, TimeoutException {
    JobHandle sum = weft.submit(Jobs.sum(1, 1_000_000_000).tasks(100).name("example sum"));
    JobHandle exec =
        weft.submit(
            Jobs.exec("sh", "-c", "echo hello from {}")
                .inputs("alpha", "beta", "gamma")
                .timeout(Duration.ofMinutes(1))
                .name("example exec"));
    out.println(
        "submitted " + sum.id() + " (sum) and " + exec.id() + " (exec) to " + weft.address());

    Job summed = sum.result().get(2, TimeUnit.MINUTES);
    out.println("sum of 1..1000000000 = " + summed.getResult().getSum().getSum());

    try {
      Job ran = exec.result().get(2, TimeUnit.MINUTES);
      for (ExecOutcome task : ran.getResult().getExec().getTasksList()) {
        out.println("task " + task.getInput() + ": " + task.getStdoutTail().strip());
      }
    } catch (ExecutionException e) {
      if (e.getCause() instanceof JobFailedException failed) {
        out.println(failed.getMessage() + ", exit code " + failed.exitCode());
      } else {
        throw e;
      }
    }
  }
}
