package dev.weft.examples.wordcount;

import com.google.protobuf.ByteString;
import dev.weft.kinds.TaskPlan;
import java.util.Objects;

/**
 * A file of {@code size} bytes in {@code count} contiguous byte ranges whose lengths differ by at
 * most one. Only the ranges are planned; the coordinator never reads the file.
 */
final class ChunkPlan implements TaskPlan {
  private final String path;
  private final long size;
  private final int count;

  ChunkPlan(String path, long size, int count) {
    if (count < 1 || (size > 0 && count > size) || (size == 0 && count != 1)) {
      throw new IllegalArgumentException(count + " chunks of a " + size + "-byte file");
    }
    this.path = path;
    this.size = size;
    this.count = count;
  }

  String path() {
    return path;
  }

  long size() {
    return size;
  }

  @Override
  public int taskCount() {
    return count;
  }

  /** The first byte of chunk {@code task}; {@code from(count)} is the file's size. */
  long from(int task) {
    Objects.checkIndex(task, count + 1);
    // The first size % count chunks are one byte longer; no product here can overflow.
    long base = size / count;
    return task * base + Math.min(task, size % count);
  }

  Chunk chunk(int task) {
    Objects.checkIndex(task, count);
    return new Chunk(path, size, from(task), from(task + 1));
  }

  @Override
  public ByteString input(int task) {
    return chunk(task).encode();
  }

  @Override
  public String describe(int task) {
    Chunk chunk = chunk(task);
    return "bytes [" + chunk.from() + ", " + chunk.to() + ") of " + path;
  }
}
