package dev.weft.worker;

import com.google.protobuf.ByteString;
import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobReduction;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.JobSpec;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A test kind that ignores cancellation and interrupts for as many milliseconds as its input says,
 * as a task wedged in a library call would: what the worker must report as stuck.
 */
public final class StubbornKind implements JobKind {
  public StubbornKind() {}

  static ByteString input(long ignoreMs) {
    return ByteString.copyFrom(ByteBuffer.allocate(Long.BYTES).putLong(0, ignoreMs));
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
    long until =
        System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(input.asReadOnlyByteBuffer().getLong());
    while (System.nanoTime() < until) {
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
