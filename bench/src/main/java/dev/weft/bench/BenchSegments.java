package dev.weft.bench;

import dev.weft.local.ShmConfig;
import dev.weft.local.ShmSegment;
import java.io.IOException;
import java.util.UUID;

/** Both ends of one segment in this process, for benchmarks; close it in a teardown. */
final class BenchSegments implements AutoCloseable {
  final ShmSegment creator;
  final ShmSegment attacher;

  /** The attacher's receiver waits as a link's does on this machine. */
  BenchSegments(int ringCapacity) throws IOException {
    this(ringCapacity, new ShmConfig().spinNs(), new ShmConfig().yieldNs());
  }

  /** The attacher's receiver spins and yields for the given times before it sleeps. */
  BenchSegments(int ringCapacity, long attacherSpinNs, long attacherYieldNs) throws IOException {
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
              new ShmConfig()
                  .coordinatorId(config.coordinatorId())
                  .linkId(config.linkId())
                  .spinNs(attacherSpinNs)
                  .yieldNs(attacherYieldNs));
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
