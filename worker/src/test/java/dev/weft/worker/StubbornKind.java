package dev.weft.worker;

import com.google.protobuf.ByteString;
import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobReduction;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.JobSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A test kind that ignores cancellation and interrupts until the file its input names exists (at
 * most a minute), as a task wedged in a library call would: what the worker must report as stuck.
 * The test, not a clock, decides when it returns, so a loaded machine cannot end it early.
 */
public final class StubbornKind implements JobKind {
  public StubbornKind() {}

  private static final long LIMIT_MS = 60_000;

  static ByteString input(Path release) {
    return ByteString.copyFromUtf8(release.toString());
  }

  @Override
  public String name() {
    return "stubborn";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    throw new InvalidJobException("params", "stubborn runs in worker tests only");
  }

  @Override
  public ByteString run(ByteString input, TaskContext context) {
    Path release = Path.of(input.toStringUtf8());
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LIMIT_MS);
    while (!Files.exists(release) && System.nanoTime() < until) {
      LockSupport.parkNanos(
          TimeUnit.MILLISECONDS.toNanos(5)); // returns early on interrupt: ignored
    }
    return ByteString.EMPTY;
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    throw new UnsupportedOperationException("stubborn runs in worker tests only");
  }
}
