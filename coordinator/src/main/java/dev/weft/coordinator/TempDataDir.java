package dev.weft.coordinator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A data dir of its own for a coordinator that must leave nothing behind ({@code weft demo}, {@code
 * weft bench}): created empty under the system's temporary directory, removed with all it holds on
 * {@link #close()}, after the coordinator using it has stopped.
 */
public final class TempDataDir implements AutoCloseable {
  private final Path path;

  private TempDataDir(Path path) {
    this.path = path;
  }

  /** A new empty directory named {@code <prefix><random>}. */
  public static TempDataDir create(String prefix) throws IOException {
    return new TempDataDir(Files.createTempDirectory(prefix));
  }

  public Path path() {
    return path;
  }

  @Override
  public void close() throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> files = Files.walk(path)) {
      files
          .sorted(Comparator.reverseOrder())
          .forEach(
              file -> {
                try {
                  Files.deleteIfExists(file);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
