package dev.weft.wire;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

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

  /**
   * Serializes {@code message} into {@code destination}, which must have exactly its serialized
   * size remaining: links encode straight into a ring's memory instead of copying a byte array.
   */
  public static void writeTo(MessageLite message, ByteBuffer destination) {
    try {
      CodedOutputStream out = CodedOutputStream.newInstance(destination);
      message.writeTo(out);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot encode a " + message.getClass().getSimpleName(), e);
    }
  }
}
