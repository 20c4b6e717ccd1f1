package dev.weft.kinds;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** Runs a whole job in the test's thread: plan, every task, and the reduction in a given order. */
final class KindHarness {
  private KindHarness() {}

  /** Every task's output, in task order. */
  static List<ByteString> runTasks(JobKind kind, TaskPlan plan) throws Exception {
    List<ByteString> outputs = new ArrayList<>();
    for (int i = 0; i < plan.taskCount(); i++) {
      outputs.add(kind.run(plan.input(i), new TestContext()));
    }
    return outputs;
  }

  /** Reduces {@code outputs}, adding them in an order shuffled by {@code shuffleSeed}. */
  static JobResult reduce(
      JobKind kind, JobSpec spec, TaskPlan plan, List<ByteString> outputs, long shuffleSeed)
      throws InvalidTaskOutputException {
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < outputs.size(); i++) {
      order.add(i);
    }
    Collections.shuffle(order, new Random(shuffleSeed));
    JobReduction reduction = kind.reduction(spec, plan);
    for (int i : order) {
      reduction.add(i, outputs.get(i));
    }
    return reduction.result();
  }

  static JobResult runJob(JobKind kind, JobSpec spec) throws Exception {
    TaskPlan plan = kind.plan(spec);
    return reduce(kind, spec, plan, runTasks(kind, plan), 1);
  }
}
