package dev.weft.kinds;

/**
 * Bytes of a task's output stream read from its log.
 *
 * @param offset the stream offset of {@code data}'s first byte
 * @param data the bytes; empty at the end of what is written so far
 * @param first the stream offset of the oldest byte still kept
 * @param end the stream offset just past the newest byte written so far
 * @param writing true while the stream is still being written (the attempt runs)
 */
public record TaskLogChunk(long offset, byte[] data, long first, long end, boolean writing) {}
