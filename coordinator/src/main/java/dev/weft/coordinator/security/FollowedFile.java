package dev.weft.coordinator.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Objects;

/**
 * A file a running coordinator follows as {@code weft token rotate} rewrites it: {@link #current()}
 * checks its identity, modification time and size (one stat) and parses it again only when one of
 * them changed, so every call can ask without a watcher thread.
 */
final class FollowedFile<T> {
  /** Turns the file's text into its value; throws when the text is damaged. */
  interface Parser<T> {
    T parse(Path path, String text) throws IOException;
  }

  private final Path path;
  private final Parser<T> parser;
  private final T whenMissing; // null: a missing file is an error
  private volatile Snapshot<T> snapshot;

  private record Snapshot<T>(Object fileKey, FileTime modified, long size, T value) {
    boolean sameFile(BasicFileAttributes attributes) {
      return Objects.equals(fileKey, attributes.fileKey())
          && modified.equals(attributes.lastModifiedTime())
          && size == attributes.size();
    }
  }

  /**
   * @param whenMissing the value while the file does not exist; null to throw instead
   */
  FollowedFile(Path path, Parser<T> parser, T whenMissing) {
    this.path = path;
    this.parser = parser;
    this.whenMissing = whenMissing;
  }

  /** The value of the file as it is now. */
  T current() throws IOException {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      if (whenMissing == null) {
        throw e;
      }
      return whenMissing;
    }
    Snapshot<T> last = snapshot;
    if (last != null && last.sameFile(attributes)) {
      return last.value();
    }
    T value =
        parser.parse(path, Files.readString(path, java.nio.charset.StandardCharsets.US_ASCII));
    snapshot =
        new Snapshot<>(
            attributes.fileKey(), attributes.lastModifiedTime(), attributes.size(), value);
    return value;
  }
}
