package dev.weft.kinds;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RangeTask;
import dev.weft.v1.SumParams;
import dev.weft.v1.SumResult;
import dev.weft.v1.SumTaskOutput;
import java.math.BigInteger;

/** {@code sum}: the exact sum of the integers in {@code [from, to]}, added one by one. */
public final class SumKind implements JobKind {
  // Cancellation is checked once per block; a block of small numbers is summed in a plain long.
  private static final int BLOCK = 1 << 20;
  // BLOCK numbers no larger than this in magnitude cannot overflow a long.
  private static final long PLAIN_LIMIT = Long.MAX_VALUE / BLOCK;

  public SumKind() {}

  @Override
  public String name() {
    return "sum";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasSum()) {
      throw new InvalidJobException("params", "a sum job needs sum parameters");
    }
    SumParams params = spec.getSum();
    if (params.getFrom() > params.getTo()) {
      throw new InvalidJobException(
          "sum.from",
          "must be <= sum.to (got from=" + params.getFrom() + ", to=" + params.getTo() + ")");
    }
    return new RangePlan(RangeSplit.plan(spec, params.getFrom(), params.getTo()));
  }

  @Override
  public ByteString run(ByteString input, TaskContext context)
      throws TaskFailedException, InterruptedException {
    RangeTask task;
    try {
      task = RangeTask.parseFrom(input);
    } catch (InvalidProtocolBufferException e) {
      throw new TaskFailedException("sum: task input is not a RangeTask: " + e.getMessage());
    }
    if (task.getFrom() > task.getTo()) {
      throw new TaskFailedException(
          "sum: empty task range [" + task.getFrom() + ", " + task.getTo() + "]");
    }
    Int128 sum = sum(task.getFrom(), task.getTo(), context);
    return SumTaskOutput.newBuilder().setHigh(sum.high()).setLow(sum.low()).build().toByteString();
  }

  /** Adds the integers of {@code [from, to]} one at a time; {@code from <= to}. */
  static Int128 sum(long from, long to, TaskContext context) throws InterruptedException {
    Int128 total = new Int128();
    long first = from;
    while (true) {
      context.checkCancelled();
      // to - first is the element count minus one, as an unsigned long.
      int length = Long.compareUnsigned(to - first, BLOCK - 1) < 0 ? (int) (to - first + 1) : BLOCK;
      long last = first + length - 1;
      if (first >= -PLAIN_LIMIT && last <= PLAIN_LIMIT) {
        long blockSum = 0;
        long value = first;
        for (int i = 0; i < length; i++) {
          blockSum += value;
          value++;
        }
        total.add(blockSum);
      } else {
        long value = first;
        for (int i = 0; i < length; i++) {
          total.add(value);
          value++;
        }
      }
      if (last == to) {
        return total;
      }
      first = last + 1;
    }
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    return new Reduction(plan.taskCount());
  }

  private static final class Reduction implements JobReduction {
    private final AddedTasks added;
    private BigInteger sum = BigInteger.ZERO;

    Reduction(int tasks) {
      this.added = new AddedTasks("sum", tasks);
    }

    @Override
    public void add(int task, ByteString output) throws InvalidTaskOutputException {
      SumTaskOutput partial = added.parse(SumTaskOutput.parser(), task, output);
      if (added.first(task)) {
        sum = sum.add(Int128.toBigInteger(partial.getHigh(), partial.getLow()));
      }
    }

    @Override
    public JobResult result() {
      added.requireAll();
      String decimal = sum.toString();
      return JobResult.newBuilder()
          .setSum(SumResult.newBuilder().setSum(decimal))
          .setSummary(decimal)
          .build();
    }
  }
}
