package dev.weft.kinds;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.CountResult;
import dev.weft.v1.CountTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.SleepTask;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** {@code sleep}: each task waits {@code ms} milliseconds, and stops at once when cancelled. */
public final class SleepKind implements JobKind {
  static final long MAX_MS = 86_400_000;

  public SleepKind() {}

  @Override
  public String name() {
    return "sleep";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasSleep()) {
      throw new InvalidJobException("params", "a sleep job needs sleep parameters");
    }
    long ms = spec.getSleep().getMs();
    if (ms < 0 || ms > MAX_MS) {
      throw new InvalidJobException(
          "sleep.ms", "must be between 0 and " + MAX_MS + " (got " + ms + ")");
    }
    int tasks = TaskCount.ofAlikeTasks(spec, "sleep");
    ByteString input = SleepTask.newBuilder().setMs(ms).build().toByteString();
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
        return "sleep " + ms + " ms";
      }
    };
  }

  @Override
  public ByteString run(ByteString input, TaskContext context)
      throws TaskFailedException, InterruptedException {
    SleepTask task;
    try {
      task = SleepTask.parseFrom(input);
    } catch (InvalidProtocolBufferException e) {
      throw new TaskFailedException("sleep: task input is not a SleepTask: " + e.getMessage());
    }
    if (task.getMs() < 0 || task.getMs() > MAX_MS) {
      throw new TaskFailedException("sleep: ms out of range: " + task.getMs());
    }
    // A latch rather than Thread.sleep: cancellation and interruption both end the wait at once.
    CountDownLatch cancelled = new CountDownLatch(1);
    context.onCancel(cancelled::countDown);
    if (cancelled.await(task.getMs(), TimeUnit.MILLISECONDS)) {
      throw new InterruptedException("task cancelled");
    }
    return CountTaskOutput.newBuilder().setCount(1).build().toByteString();
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    long ms = spec.getSleep().getMs();
    AddedTasks added = new AddedTasks("sleep", plan.taskCount());
    return new JobReduction() {
      @Override
      public void add(int task, ByteString output) throws InvalidTaskOutputException {
        added.parse(CountTaskOutput.parser(), task, output);
        added.first(task);
      }

      @Override
      public JobResult result() {
        int tasks = added.count();
        return JobResult.newBuilder()
            .setCount(CountResult.newBuilder().setTasks(tasks))
            .setSummary(tasks + (tasks == 1 ? " task" : " tasks") + " slept " + ms + " ms")
            .build();
      }
    };
  }
}
