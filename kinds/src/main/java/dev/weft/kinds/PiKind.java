package dev.weft.kinds;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.CountTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PiParams;
import dev.weft.v1.PiResult;
import dev.weft.v1.PiTask;
import java.util.Locale;

/**
 * {@code pi}: a Monte Carlo estimate of pi. Each task draws its points from a generator seeded by
 * the job's seed and the task's index, so a seed and a task count give one result whichever workers
 * run the tasks.
 */
public final class PiKind implements JobKind {
  // About a quarter of a millisecond of samples between cancellation checks.
  private static final int CANCEL_CHECK_INTERVAL = 1 << 16;

  public PiKind() {}

  @Override
  public String name() {
    return "pi";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasPi()) {
      throw new InvalidJobException("params", "a pi job needs pi parameters");
    }
    PiParams params = spec.getPi();
    if (params.getSamples() < 1) {
      throw new InvalidJobException("pi.samples", "must be >= 1 (got " + params.getSamples() + ")");
    }
    return new Plan(RangeSplit.plan(spec, 0, params.getSamples() - 1), params.getSeed());
  }

  @Override
  public ByteString run(ByteString input, TaskContext context)
      throws TaskFailedException, InterruptedException {
    PiTask task;
    try {
      task = PiTask.parseFrom(input);
    } catch (InvalidProtocolBufferException e) {
      throw new TaskFailedException("pi: task input is not a PiTask: " + e.getMessage());
    }
    if (task.getSamples() < 0) {
      throw new TaskFailedException("pi: negative sample count " + task.getSamples());
    }
    long inside = inside(task.getSamples(), task.getSeed(), context);
    return CountTaskOutput.newBuilder().setCount(inside).build().toByteString();
  }

  /** How many of {@code samples} random points of the unit square fall in the quarter circle. */
  static long inside(long samples, long seed, TaskContext context) throws InterruptedException {
    SplitMix64 random = new SplitMix64(seed);
    long inside = 0;
    for (long i = 0; i < samples; i++) {
      if ((i & (CANCEL_CHECK_INTERVAL - 1)) == 0) {
        context.checkCancelled();
      }
      double x = random.nextDouble();
      double y = random.nextDouble();
      if (x * x + y * y <= 1.0) {
        inside++;
      }
    }
    return inside;
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    return new Reduction(plan.taskCount(), spec.getPi().getSamples());
  }

  private static final class Plan implements TaskPlan {
    private final RangeSplit split;
    private final long seed;

    Plan(RangeSplit split, long seed) {
      this.split = split;
      this.seed = seed;
    }

    @Override
    public int taskCount() {
      return split.count();
    }

    @Override
    public ByteString input(int task) {
      return PiTask.newBuilder()
          .setSamples(samples(task))
          .setSeed(SplitMix64.streamSeed(seed, task))
          .build()
          .toByteString();
    }

    @Override
    public String describe(int task) {
      return samples(task) + " samples";
    }

    private long samples(int task) {
      return split.to(task) - split.from(task) + 1;
    }
  }

  private static final class Reduction implements JobReduction {
    private final AddedTasks added;
    private final long samples;
    private long inside;

    Reduction(int tasks, long samples) {
      this.added = new AddedTasks("pi", tasks);
      this.samples = samples;
    }

    @Override
    public void add(int task, ByteString output) throws InvalidTaskOutputException {
      CountTaskOutput partial = added.parse(CountTaskOutput.parser(), task, output);
      if (partial.getCount() < 0 || partial.getCount() > samples) {
        throw new InvalidTaskOutputException(
            "pi task " + task + ": " + partial.getCount() + " points inside is out of range");
      }
      if (added.first(task)) {
        inside += partial.getCount();
      }
    }

    @Override
    public JobResult result() {
      added.requireAll();
      double estimate = 4.0 * inside / samples;
      return JobResult.newBuilder()
          .setPi(PiResult.newBuilder().setEstimate(estimate).setInside(inside).setSamples(samples))
          .setSummary(
              String.format(
                  Locale.ROOT, "%.6f (%d of %d samples inside)", estimate, inside, samples))
          .build();
    }
  }
}
