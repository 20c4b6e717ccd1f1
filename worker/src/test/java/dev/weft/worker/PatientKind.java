package dev.weft.worker;

import com.google.protobuf.ByteString;
import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobReduction;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.JobSpec;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A test kind that says it is inline-cheap but runs until its cancel token flips (at most a
 * minute), so a test can cancel an inline task while it runs.
 */
public final class PatientKind implements JobKind {
  private static final long LIMIT_MS = 60_000;

  public PatientKind() {}

  @Override
  public String name() {
    return "patient";
  }

  @Override
  public boolean inlineCheap() {
    return true;
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    throw new InvalidJobException("params", "patient runs in worker tests only");
  }

  @Override
  public ByteString run(ByteString input, TaskContext context) {
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LIMIT_MS);
    while (!context.isCancelled() && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    return ByteString.EMPTY;
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    throw new UnsupportedOperationException("patient runs in worker tests only");
  }
}
