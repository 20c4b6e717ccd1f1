package dev.weft.wire;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import com.google.protobuf.UnsafeByteOperations;
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

  /**
   * Parses a message from the bytes between {@code frame}'s position and limit, copying them once.
   *
   * <p>The frame is copied into an array of its own that nothing else writes, and the message's
   * bytes fields (task inputs, chunks) are slices of that array rather than copies: one copy of a
   * payload instead of two ({@code parseFrom(ByteBuffer)} copies a direct buffer whole, then each
   * bytes field again). The frame may be reused as soon as this returns. Its position does not
   * move.
   */
  public static <T> T parse(Parser<T> parser, ByteBuffer frame)
      throws InvalidProtocolBufferException {
    byte[] copy = new byte[frame.remaining()];
    frame.get(frame.position(), copy);
    // Aliasing is safe only because the array is never written again.
    CodedInputStream in = UnsafeByteOperations.unsafeWrap(copy).newCodedInput();
    in.enableAliasing(true);
    T message = parser.parseFrom(in);
    in.checkLastTagWas(0);
    return message;
  }
}
