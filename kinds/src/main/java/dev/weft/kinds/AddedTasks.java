package dev.weft.kinds;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import java.util.BitSet;

/**
 * The tasks a reduction has folded in. The coordinator promises each task once; this makes a repeat
 * harmless instead of counting it twice.
 */
final class AddedTasks {
  private final String kind;
  private final int total;
  private final BitSet added;
  private int count;

  AddedTasks(String kind, int total) {
    this.kind = kind;
    this.total = total;
    this.added = new BitSet(total);
  }

  /** Decodes task {@code task}'s output, or says which task sent what could not be decoded. */
  <T> T parse(Parser<T> parser, int task, ByteString output) throws InvalidTaskOutputException {
    try {
      return parser.parseFrom(output);
    } catch (InvalidProtocolBufferException e) {
      throw new InvalidTaskOutputException(
          kind + " task " + task + ": output does not parse: " + e.getMessage(), e);
    }
  }

  /** Marks {@code task} added; false when it already was, and its output must be ignored. */
  boolean first(int task) {
    if (task < 0 || task >= total) {
      throw new IllegalArgumentException(kind + ": task " + task + " is not in [0, " + total + ")");
    }
    if (added.get(task)) {
      return false;
    }
    added.set(task);
    count++;
    return true;
  }

  boolean contains(int task) {
    return added.get(task);
  }

  int count() {
    return count;
  }

  /** For results that would be wrong without every task, such as a sum. */
  void requireAll() {
    if (count != total) {
      throw new IllegalStateException(
          kind + ": result asked for after " + count + " of " + total + " tasks were added");
    }
  }
}
