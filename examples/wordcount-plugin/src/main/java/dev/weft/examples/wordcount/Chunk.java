package dev.weft.examples.wordcount;

import com.google.protobuf.ByteString;
import dev.weft.kinds.TaskFailedException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One task's input: bytes {@code [from, to)} of the file at {@code path}, which was {@code
 * fileSize} bytes long when the job was planned.
 *
 * <pre>
 *  0        8        16       24
 *  +--------+--------+--------+---------------------+
 *  |fileSize|  from  |   to   | path (UTF-8, rest)  |
 *  +--------+--------+--------+---------------------+
 * </pre>
 *
 * (longs big-endian). A plugin cannot add messages to weft's protos, so it encodes its own.
 */
record Chunk(String path, long fileSize, long from, long to) {
  private static final int HEADER_BYTES = 3 * Long.BYTES;

  long length() {
    return to - from;
  }

  ByteString encode() {
    byte[] name = path.getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(HEADER_BYTES + name.length);
    out.putLong(fileSize).putLong(from).putLong(to).put(name).flip();
    return ByteString.copyFrom(out);
  }

  static Chunk decode(ByteString input) throws TaskFailedException {
    if (input.size() <= HEADER_BYTES) {
      throw new TaskFailedException(
          "wordcount: task input is " + input.size() + " bytes, too short for a chunk");
    }
    ByteBuffer in = input.asReadOnlyByteBuffer();
    long fileSize = in.getLong();
    long from = in.getLong();
    long to = in.getLong();
    byte[] name = new byte[in.remaining()];
    in.get(name);
    if (from < 0 || from > to || to > fileSize) {
      throw new TaskFailedException(
          "wordcount: task input names bytes ["
              + from
              + ", "
              + to
              + ") of a "
              + fileSize
              + "-byte file");
    }
    return new Chunk(new String(name, StandardCharsets.UTF_8), fileSize, from, to);
  }
}
