package dev.weft.kinds;

/**
 * Where the bytes of one of a task's output streams are kept beyond the tail in its result. One
 * thread writes (the stream's pump); a sink whose storage fails stops keeping bytes and says so in
 * the worker's log, and never fails the task.
 */
public interface TaskLogSink {
  /** A sink that keeps nothing: the task's context has no log. */
  TaskLogSink DISCARD =
      new TaskLogSink() {
        @Override
        public void write(byte[] bytes, int offset, int length) {}

        @Override
        public void close() {}
      };

  void write(byte[] bytes, int offset, int length);

  /** The stream has ended: no more bytes come. */
  void close();
}
