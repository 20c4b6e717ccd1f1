package dev.weft.kinds;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.CountTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PrimesParams;
import dev.weft.v1.PrimesResult;
import dev.weft.v1.RangeTask;

/** {@code primes}: how many primes lie in {@code [from, to]}, by a segmented sieve per task. */
public final class PrimesKind implements JobKind {

  public PrimesKind() {}

  @Override
  public String name() {
    return "primes";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasPrimes()) {
      throw new InvalidJobException("params", "a primes job needs primes parameters");
    }
    PrimesParams params = spec.getPrimes();
    long from = params.getFrom();
    long to = params.getTo();
    if (from > to) {
      throw new InvalidJobException(
          "primes.from", "must be <= primes.to (got from=" + from + ", to=" + to + ")");
    }
    if (to > PrimeSieve.MAX_TO) {
      throw new InvalidJobException(
          "primes.to", "must be <= " + PrimeSieve.MAX_TO + " (got " + to + ")");
    }
    // Numbers below 2 hold no primes: split only the part that does work, so no task idles.
    return new RangePlan(RangeSplit.plan(spec, to >= 2 ? Math.max(from, 2) : from, to));
  }

  @Override
  public ByteString run(ByteString input, TaskContext context)
      throws TaskFailedException, InterruptedException {
    RangeTask task;
    try {
      task = RangeTask.parseFrom(input);
    } catch (InvalidProtocolBufferException e) {
      throw new TaskFailedException("primes: task input is not a RangeTask: " + e.getMessage());
    }
    if (task.getFrom() > task.getTo() || task.getTo() > PrimeSieve.MAX_TO) {
      throw new TaskFailedException(
          "primes: bad task range [" + task.getFrom() + ", " + task.getTo() + "]");
    }
    long count = PrimeSieve.count(task.getFrom(), task.getTo(), context);
    return CountTaskOutput.newBuilder().setCount(count).build().toByteString();
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    return new Reduction(plan.taskCount());
  }

  private static final class Reduction implements JobReduction {
    private final AddedTasks added;
    private long count;

    Reduction(int tasks) {
      this.added = new AddedTasks("primes", tasks);
    }

    @Override
    public void add(int task, ByteString output) throws InvalidTaskOutputException {
      CountTaskOutput partial = added.parse(CountTaskOutput.parser(), task, output);
      if (partial.getCount() < 0) {
        throw new InvalidTaskOutputException(
            "primes task " + task + ": negative count " + partial.getCount());
      }
      if (added.first(task)) {
        count += partial.getCount();
      }
    }

    @Override
    public JobResult result() {
      added.requireAll();
      return JobResult.newBuilder()
          .setPrimes(PrimesResult.newBuilder().setCount(count))
          .setSummary(Long.toString(count))
          .build();
    }
  }
}
