package dev.weft.cli;

import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Cuts one output stream of a task into lines and hands each on whole, with the task's tag and a
 * TAB before it, as GNU parallel's {@code --tag} prints them. Bytes pass as the task wrote them
 * (its output need not be text); an unfinished last line gets a newline, so the next line printed,
 * of whatever task, starts on a line of its own. One stream's reader only.
 */
final class TaggedLines {
  /**
   * A line longer than this is handed on in pieces of this size, each tagged: the pieces of a
   * followed stream wait in memory until their newline comes, and a task may write without one.
   */
  static final int MAX_LINE = 64 * 1024;

  /** Takes each tagged line, newline included; may wait for room. */
  interface Sink {
    void accept(byte[] line) throws InterruptedException;
  }

  private final byte[] tag;
  private final Sink sink;
  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

  /**
   * @param tag what goes before each line (a TAB follows it)
   * @param sink takes each tagged line
   */
  TaggedLines(String tag, Sink sink) {
    this.tag = (tag + "\t").getBytes(StandardCharsets.UTF_8);
    this.sink = sink;
  }

  void add(ByteString data) throws InterruptedException {
    int size = data.size();
    int from = 0;
    for (int i = 0; i < size; i++) {
      if (data.byteAt(i) == '\n') {
        append(data, from, i);
        emit();
        from = i + 1;
      } else if (partial.size() + (i + 1 - from) >= MAX_LINE) {
        append(data, from, i + 1);
        emit();
        from = i + 1;
      }
    }
    append(data, from, size);
  }

  /** The stream ended: an unfinished last line goes out with a newline. */
  void finish() throws InterruptedException {
    if (partial.size() > 0) {
      emit();
    }
  }

  private void append(ByteString data, int from, int to) {
    if (to > from) {
      partial.writeBytes(data.substring(from, to).toByteArray());
    }
  }

  private void emit() throws InterruptedException {
    byte[] line = new byte[tag.length + partial.size() + 1];
    System.arraycopy(tag, 0, line, 0, tag.length);
    byte[] body = partial.toByteArray();
    System.arraycopy(body, 0, line, tag.length, body.length);
    line[line.length - 1] = '\n';
    partial.reset();
    sink.accept(line);
  }
}
