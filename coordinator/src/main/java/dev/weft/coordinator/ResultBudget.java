package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.JobResult;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * What one job's result may keep of its tasks' outputs, whatever its workers send: an exec task's
 * stdout and stderr tails are cut to {@link #TAIL_BYTES} each (the worker keeps no more, but the
 * coordinator does not trust it to), and all the tails of a job together to {@code maxBytes}
 * (--max-result-bytes). Beyond that a task's tails are dropped, and the job's result summary says
 * how many were. Error messages from workers are cut to {@link #MAX_ERROR_CHARS}. Outputs are
 * bounded before they reach the reduction or the journal, so neither the stored result nor any
 * answer grows with what a dishonest worker sends. Conductor thread only.
 */
final class ResultBudget {
  static final int DEFAULT_MAX_RESULT_BYTES = 1 << 20;
  // As the worker's OutputTail.CAPACITY: what an honest worker sends at most per stream.
  static final int TAIL_BYTES = 4096;
  static final int MIN_MAX_RESULT_BYTES = 2 * TAIL_BYTES;
  static final int MAX_ERROR_CHARS = 4096;
  static final String FLAG = "--max-result-bytes";
  static final String CUT_MARK = "[weft: cut to the last " + TAIL_BYTES + " bytes]\n";

  private final boolean exec;
  private final long maxBytes;
  private long used;
  private int dropped;

  ResultBudget(String kindName, long maxBytes) {
    this.exec = "exec".equals(kindName);
    this.maxBytes = maxBytes;
  }

  /**
   * The output to keep of one task: for exec, its tails cut to {@link #TAIL_BYTES} each and charged
   * to the job's budget (dropped once it is spent). Other kinds' outputs are fixed-size, or a
   * plugin's own, and pass unchanged; so does an output that does not parse (the reduction refuses
   * it).
   */
  ByteString bound(ByteString output) {
    if (!exec || output.isEmpty()) {
      return output;
    }
    ExecTaskOutput parsed;
    try {
      parsed = ExecTaskOutput.parseFrom(output);
    } catch (InvalidProtocolBufferException e) {
      return output;
    }
    String stdout = tail(parsed.getStdoutTail());
    String stderr = tail(parsed.getStderrTail());
    long cost = utf8Length(stdout) + utf8Length(stderr);
    if (cost > 0 && used + cost > maxBytes) {
      dropped++;
      stdout = "";
      stderr = "";
    } else {
      used += cost;
    }
    if (stdout.equals(parsed.getStdoutTail()) && stderr.equals(parsed.getStderrTail())) {
      return output;
    }
    return parsed.toBuilder().setStdoutTail(stdout).setStderrTail(stderr).build().toByteString();
  }

  /** The result, saying in its summary how many tasks' tails the budget dropped. */
  JobResult note(JobResult result) {
    if (dropped == 0 || result == null) {
      return result;
    }
    return result.toBuilder()
        .setSummary(
            result.getSummary()
                + " (output of "
                + dropped
                + (dropped == 1 ? " task" : " tasks")
                + " dropped: the job's output tails reached the limit of "
                + maxBytes
                + " bytes, "
                + FLAG
                + ")")
        .build();
  }

  /** Tasks whose tails were dropped for want of budget. */
  int dropped() {
    return dropped;
  }

  /** A worker's error message, cut to {@link #MAX_ERROR_CHARS}. */
  static String error(String message) {
    if (message.length() <= MAX_ERROR_CHARS) {
      return message;
    }
    return message.substring(0, MAX_ERROR_CHARS) + " [weft: cut; " + message.length() + " chars]";
  }

  /** The last {@link #TAIL_BYTES} bytes of {@code text} (whole characters), marked if cut. */
  private static String tail(String text) {
    if (text.length() <= TAIL_BYTES / 4 || utf8Length(text) <= TAIL_BYTES) {
      return text;
    }
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    int keep = TAIL_BYTES - CUT_MARK.length();
    int start = bytes.length - keep;
    // Skip UTF-8 continuation bytes (10xxxxxx) left from a character cut in half.
    while (start < bytes.length && (bytes[start] & 0xC0) == 0x80) {
      start++;
    }
    return CUT_MARK
        + new String(Arrays.copyOfRange(bytes, start, bytes.length), StandardCharsets.UTF_8);
  }

  private static long utf8Length(String text) {
    long n = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < 0x80) {
        n++;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }
}
