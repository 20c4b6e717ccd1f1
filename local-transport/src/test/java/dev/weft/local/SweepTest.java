package dev.weft.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SweepTest {
  private static final Duration TEN_MINUTES = Duration.ofMinutes(10);

  @TempDir Path directory;

  private ShmConfig config(String linkId) {
    return new ShmConfig()
        .directory(directory)
        .coordinatorId("sweep")
        .linkId(linkId)
        .ringCapacity(4096);
  }

  private static long deadPid() throws Exception {
    Process process = new ProcessBuilder("true").start();
    assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    return process.pid();
  }

  @Test
  void removesSegmentsOfDeadOrClosedCreatorsAndOldGarbageOnly() throws Exception {
    long now = System.currentTimeMillis();
    try (ShmSegment alive = ShmSegment.create(config("alive"));
        ShmSegment dead = ShmSegment.create(config("dead"));
        ShmSegment reused = ShmSegment.create(config("reused"));
        ShmSegment closed = ShmSegment.create(config("closed"))) {
      Poke.putLong(dead.path(), SegmentDescriptor.CREATOR_PID_OFFSET, deadPid());
      // Our pid, but a process that started a day earlier: the pid was reused.
      long start = ProcessLiveness.startTimeMs(ProcessHandle.current());
      Poke.putLong(reused.path(), SegmentDescriptor.CREATOR_START_OFFSET, start - 86_400_000L);
      Poke.putInt(closed.path(), SegmentDescriptor.CREATOR_CLOSED_OFFSET, 1);
      Path oldGarbage = Files.write(directory.resolve("weft-old-garbage"), new byte[10]);
      Files.setLastModifiedTime(oldGarbage, FileTime.fromMillis(now - 3_600_000));
      Path youngGarbage = Files.write(directory.resolve("weft-young-garbage"), new byte[10]);
      Path notOurs = Files.write(directory.resolve("something-else"), new byte[10]);
      Files.setLastModifiedTime(notOurs, FileTime.fromMillis(now - 3_600_000));

      List<Path> removed = ShmSegment.sweepStale(directory, TEN_MINUTES, now);

      assertEquals(
          Set.of(dead.path(), reused.path(), closed.path(), oldGarbage), Set.copyOf(removed));
      assertEquals(
          Set.of(alive.path(), youngGarbage, notOurs),
          Files.list(directory).collect(Collectors.toSet()));
    }
  }

  @Test
  void anEmptyDirectorySweepsNothing() throws IOException {
    assertEquals(List.of(), ShmSegment.sweepStale(directory, TEN_MINUTES, 0));
  }
}
