package dev.weft.local;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Writes values into a segment file behind its users' backs, to corrupt it on purpose. */
final class Poke {
  private Poke() {}

  static void putInt(Path file, long offset, int value) throws IOException {
    write(
        file,
        offset,
        ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.nativeOrder()).putInt(0, value));
  }

  static void putLong(Path file, long offset, long value) throws IOException {
    write(
        file,
        offset,
        ByteBuffer.allocate(Long.BYTES).order(ByteOrder.nativeOrder()).putLong(0, value));
  }

  private static void write(Path file, long offset, ByteBuffer bytes) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      while (bytes.hasRemaining()) {
        channel.write(bytes, offset + bytes.position());
      }
    }
  }
}
