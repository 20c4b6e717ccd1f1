package dev.weft.bench;

import dev.weft.local.ShmConfig;
import dev.weft.local.ShmSegment;
import java.io.IOException;
import java.util.UUID;

/** Both ends of one segment in this process, for benchmarks; close it in a teardown. */
final class BenchSegments implements AutoCloseable {
  final ShmSegment creator;
  final ShmSegment attacher;

  BenchSegments(int ringCapacity) throws IOException {
    this(ringCapacity, ShmConfig.DEFAULT_SPIN_NS, ShmConfig.DEFAULT_MAX_YIELDS);
  }

  /** The attacher's receiver waits with the given spin time and yields before it sleeps. */
  BenchSegments(int ringCapacity, long attacherSpinNs, int attacherMaxYields) throws IOException {
    ShmConfig config =
        new ShmConfig()
            .coordinatorId("bench" + ProcessHandle.current().pid())
            .linkId(UUID.randomUUID().toString().substring(0, 8))
            .ringCapacity(ringCapacity);
    creator = ShmSegment.create(config);
    ShmSegment attached;
    try {
      attached =
          ShmSegment.attach(
              new ShmConfig().coordinatorId(config.coordinatorId()).linkId(config.linkId()));
    } catch (IOException | RuntimeException e) {
      creator.close();
      throw e;
    }
    attacher = attached;
  }

  @Override
  public void close() {
    attacher.close();
    creator.close();
  }
}
