package dev.weft.kinds;

import com.google.protobuf.ByteString;
import dev.weft.v1.RangeTask;

/** The plan of a kind whose tasks are sub-ranges of longs ({@code sum}, {@code primes}). */
final class RangePlan implements TaskPlan {
  private final RangeSplit split;

  RangePlan(RangeSplit split) {
    this.split = split;
  }

  RangeSplit split() {
    return split;
  }

  @Override
  public int taskCount() {
    return split.count();
  }

  @Override
  public ByteString input(int task) {
    return RangeTask.newBuilder()
        .setFrom(split.from(task))
        .setTo(split.to(task))
        .build()
        .toByteString();
  }

  @Override
  public String describe(int task) {
    return split.describe(task);
  }
}
