package dev.weft.local;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Segment names for tests, and a check after each test that none of this JVM's test segments is
 * left in /dev/shm (other modules' tests may have theirs there at the same time: not ours to
 * judge).
 */
final class TestSegments implements AfterEachCallback {
  /** Every test segment of this JVM starts with this, after "weft-". */
  static final String COORDINATOR_ID = "ltest" + ProcessHandle.current().pid();

  static ShmConfig config() {
    return new ShmConfig()
        .coordinatorId(COORDINATOR_ID)
        .linkId(UUID.randomUUID().toString().substring(0, 8))
        .ringCapacity(64 * 1024);
  }

  /** A config for the attacher of the segment {@code creator} made. */
  static ShmConfig attacherOf(ShmConfig creator) {
    return new ShmConfig()
        .directory(creator.directory())
        .coordinatorId(creator.coordinatorId())
        .linkId(creator.linkId())
        .maxFrameType(creator.maxFrameType());
  }

  static List<Path> leftovers() {
    try (Stream<Path> files = Files.list(ShmConfig.DEFAULT_DIRECTORY)) {
      return files
          .filter(p -> p.getFileName().toString().startsWith("weft-" + COORDINATOR_ID))
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void afterEach(ExtensionContext context) throws IOException {
    List<Path> left = leftovers();
    for (Path path : left) {
      Files.deleteIfExists(path);
    }
    assertEquals(List.of(), left, "test left segments behind");
  }
}
