package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobSpec;
import dev.weft.v1.NoopParams;
import dev.weft.v1.NoopTaskOutput;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * What one dispatch decision costs the conductor as workers and queued jobs grow: the core on a
 * hand-set clock (no sockets, no threads), simulated workers that answer every task they hold each
 * round, and owners and weights mixed so fair share has work to do. Prints nanoseconds per
 * dispatched task; asserts only that every slot was filled each round. Not part of the suite (its
 * name ends in Bench): run it with scripts/bench-dispatch.sh.
 */
final class DispatchScaleBench {
  private static final int SLOTS = 8;
  // Tasks dispatched before and while measuring, whatever the shape: the JIT must settle first.
  private static final long WARMUP_TASKS = 2_000_000;
  private static final long MEASURED_TASKS = 2_000_000;
  private static final ByteString NOOP_OUTPUT = NoopTaskOutput.getDefaultInstance().toByteString();

  record Figures(int workers, int jobs, double dispatchNs, double resultsNs) {}

  @Test
  void dispatchCostDoesNotGrowWithJobsOrWorkers() {
    List<Figures> all = new ArrayList<>();
    int[][] shapes = {{10, 100}, {10, 10_000}, {1_000, 100}, {1_000, 10_000}};
    measure(100, 1_000); // warms the JIT for all shapes alike
    for (int[] shape : shapes) {
      all.add(measure(shape[0], shape[1]));
    }
    // A Markdown table, which scripts/bench-dispatch.sh copies as it is.
    StringBuilder table =
        new StringBuilder(
            "| workers (8 slots) | queued jobs | dispatch ns per task | results ns per task |\n"
                + "|---|---|---|---|\n");
    for (Figures f : all) {
      table.append(
          String.format(
              Locale.ROOT,
              "| %,d | %,d | %.0f | %.0f |%n",
              f.workers(),
              f.jobs(),
              f.dispatchNs(),
              f.resultsNs()));
    }
    System.out.println();
    System.out.println(table);
  }

  private static Figures measure(int workers, int jobs) {
    try (CoreHarness core =
        new CoreHarness(
            config ->
                config
                    .maxUnfinishedJobs(1_000_000)
                    .maxUnfinishedJobsPerOwner(1_000_000)
                    .maxQueuedTasks(Long.MAX_VALUE)
                    .maxQueuedTasksPerOwner(Long.MAX_VALUE))) {
      int perRound = workers * SLOTS;
      int warmupRounds = (int) (WARMUP_TASKS / perRound);
      int rounds = (int) (MEASURED_TASKS / perRound);
      int tasksPerJob =
          (int) Math.min(1_000_000, 2L * (warmupRounds + rounds + 1) * perRound / jobs + 1);
      for (int j = 0; j < jobs; j++) {
        core.submit(
            JobSpec.newBuilder()
                .setNoop(NoopParams.getDefaultInstance())
                .setTasks(tasksPerJob)
                .setOwner("owner-" + (j % 7))
                .setWeight(1 + j % 3)
                .setPriority(j % 50 == 0 ? 1 : 0)
                .build());
      }
      List<CoreHarness.Link> links = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        CoreHarness.Link link = core.attach(CoreHarness.hello("w" + w, SLOTS).build(), SLOTS);
        link.keepsHistory = false;
        links.add(link);
      }
      long dispatchNanos = 0;
      long resultsNanos = 0;
      long dispatched = 0;
      for (int round = 0; round < warmupRounds + rounds; round++) {
        List<List<TaskResult>> answers = new ArrayList<>(links.size());
        for (CoreHarness.Link link : links) {
          assertEquals(SLOTS, link.running.size(), "every slot filled");
          List<TaskResult> results = new ArrayList<>(SLOTS);
          for (TaskAssignment task : link.running.values()) {
            results.add(
                TaskResult.newBuilder()
                    .setAttemptId(task.getAttemptId())
                    .setOk(true)
                    .setOutput(NOOP_OUTPUT)
                    .build());
          }
          link.running.clear();
          answers.add(results);
        }
        long start = System.nanoTime();
        for (int i = 0; i < links.size(); i++) {
          core.scheduler.results(links.get(i).worker, answers.get(i));
        }
        long fed = System.nanoTime();
        core.cycle();
        long end = System.nanoTime();
        if (round >= warmupRounds) {
          resultsNanos += fed - start;
          dispatchNanos += end - fed;
          dispatched += (long) workers * SLOTS;
        }
      }
      return new Figures(
          workers, jobs, dispatchNanos / (double) dispatched, resultsNanos / (double) dispatched);
    }
  }
}
