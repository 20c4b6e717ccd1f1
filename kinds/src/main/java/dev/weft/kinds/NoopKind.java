package dev.weft.kinds;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import dev.weft.v1.CountResult;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.NoopTask;
import dev.weft.v1.NoopTaskOutput;
import java.io.IOException;

/**
 * {@code noop}: tasks that carry a payload to a worker and do nothing else, for measuring the
 * scheduler and the transports. The worker reports the payload size it saw, which the reduction
 * checks, so a transport that mangles frames is caught.
 */
public final class NoopKind implements JobKind {
  static final int MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

  public NoopKind() {}

  @Override
  public String name() {
    return "noop";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasNoop()) {
      throw new InvalidJobException("params", "a noop job needs noop parameters");
    }
    int size = spec.getNoop().getPayloadBytes();
    if (size < 0 || size > MAX_PAYLOAD_BYTES) {
      throw new InvalidJobException(
          "noop.payload_bytes",
          "must be between 0 and " + MAX_PAYLOAD_BYTES + " (got " + size + ")");
    }
    int tasks = TaskCount.ofAlikeTasks(spec, "noop");
    // Every task gets the same immutable input, built once: dispatching costs no copy.
    ByteString input = NoopTask.newBuilder().setPayload(payload(size)).build().toByteString();
    return new TaskPlan() {
      @Override
      public int taskCount() {
        return tasks;
      }

      @Override
      public ByteString input(int task) {
        return input;
      }

      @Override
      public String describe(int task) {
        return "payload " + size + " bytes";
      }
    };
  }

  /** Deterministic, not all zeros, so a transport cannot look right by sending zeros. */
  static ByteString payload(int size) {
    byte[] bytes = new byte[size];
    for (int i = 0; i < size; i++) {
      bytes[i] = (byte) (i * 31 + 7);
    }
    return ByteString.copyFrom(bytes);
  }

  @Override
  public ByteString run(ByteString input, TaskContext context) throws TaskFailedException {
    // Aliasing lets the payload field share the input's bytes instead of copying them.
    CodedInputStream in = input.newCodedInput();
    in.enableAliasing(true);
    NoopTask task;
    try {
      task = NoopTask.parseFrom(in);
    } catch (IOException e) {
      throw new TaskFailedException("noop: task input is not a NoopTask: " + e.getMessage());
    }
    return NoopTaskOutput.newBuilder().setBytes(task.getPayload().size()).build().toByteString();
  }

  /** Parsing the input (aliased, not copied) is all a task does. */
  @Override
  public boolean inlineCheap() {
    return true;
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    long expected = spec.getNoop().getPayloadBytes();
    AddedTasks added = new AddedTasks("noop", plan.taskCount());
    return new JobReduction() {
      private long bytes;

      @Override
      public void add(int task, ByteString output) throws InvalidTaskOutputException {
        NoopTaskOutput seen = added.parse(NoopTaskOutput.parser(), task, output);
        if (seen.getBytes() != expected) {
          throw new InvalidTaskOutputException(
              "noop task "
                  + task
                  + ": the worker saw "
                  + seen.getBytes()
                  + " payload bytes, expected "
                  + expected);
        }
        if (added.first(task)) {
          bytes += seen.getBytes();
        }
      }

      @Override
      public JobResult result() {
        int tasks = added.count();
        return JobResult.newBuilder()
            .setCount(CountResult.newBuilder().setTasks(tasks).setBytes(bytes))
            .setSummary(tasks + (tasks == 1 ? " task, " : " tasks, ") + bytes + " payload bytes")
            .build();
      }
    };
  }
}
