package dev.weft.examples.wordcount;

import com.google.protobuf.ByteString;
import dev.weft.kinds.InvalidTaskOutputException;
import dev.weft.kinds.JobReduction;
import dev.weft.v1.JobResult;
import dev.weft.v1.PluginResult;
import java.util.BitSet;

/**
 * Adds up the chunks' word counts. The coordinator promises each task once; a repeat is ignored all
 * the same, since counting it twice would give a wrong total without a word of warning.
 */
final class WordTally implements JobReduction {
  private final ChunkPlan plan;
  private final BitSet added;
  private long words;

  WordTally(ChunkPlan plan) {
    this.plan = plan;
    this.added = new BitSet(plan.taskCount());
  }

  @Override
  public void add(int task, ByteString output) throws InvalidTaskOutputException {
    if (output.size() != Long.BYTES) {
      throw new InvalidTaskOutputException(
          "wordcount task " + task + ": output is " + output.size() + " bytes, not a count's 8");
    }
    long count = output.asReadOnlyByteBuffer().getLong();
    Chunk chunk = plan.chunk(task);
    // No chunk holds more word starts than bytes.
    if (count < 0 || count > chunk.length()) {
      throw new InvalidTaskOutputException(
          "wordcount task "
              + task
              + ": "
              + count
              + " words in "
              + chunk.length()
              + " bytes cannot be");
    }
    if (!added.get(task)) {
      added.set(task);
      words += count;
    }
  }

  @Override
  public JobResult result() {
    if (added.cardinality() != plan.taskCount()) {
      throw new IllegalStateException(
          "wordcount: result asked for after "
              + added.cardinality()
              + " of "
              + plan.taskCount()
              + " tasks were added");
    }
    return JobResult.newBuilder()
        .setPlugin(PluginResult.newBuilder().setText(Long.toString(words)))
        .setSummary(
            words
                + " words in "
                + plan.path()
                + " ("
                + plan.size()
                + " bytes, "
                + plan.taskCount()
                + (plan.taskCount() == 1 ? " task)" : " tasks)"))
        .build();
  }
}
