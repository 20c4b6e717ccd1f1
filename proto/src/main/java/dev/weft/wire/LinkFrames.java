package dev.weft.wire;

/**
 * Frame types for links that carry weft's messages as frames (pipes, shared-memory rings). Both
 * ends must agree, so they live beside the schema.
 */
public final class LinkFrames {
  /** A serialized {@code weft.v1.CoordinatorMessage}, coordinator to worker. */
  public static final int COORDINATOR_MESSAGE = 1;

  /** A serialized {@code weft.v1.WorkerMessage}, worker to coordinator. */
  public static final int WORKER_MESSAGE = 2;

  /** The highest type in use: receivers reject anything above it. */
  public static final int MAX_TYPE = WORKER_MESSAGE;

  /** The largest message a frame link carries (a hash chunk of 64 MiB plus its envelope). */
  public static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024 + 64 * 1024;

  private LinkFrames() {}
}
