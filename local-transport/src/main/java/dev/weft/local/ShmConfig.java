package dev.weft.local;

import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.SystemEpochClock;

/**
 * Settings for creating or attaching a {@link ShmSegment}, with fluent setters and a {@link
 * #conclude()} that fills defaults and checks the rules between fields.
 *
 * <p>The ring capacity and the max frame length are the creator's choice: they are written into the
 * segment and an attacher takes them from there, ignoring its own.
 */
public final class ShmConfig {
  public static final Path DEFAULT_DIRECTORY = Path.of("/dev/shm");

  /** Per direction; 8 MiB of /dev/shm per link in all. */
  public static final int DEFAULT_RING_CAPACITY = 4 << 20;

  public static final long DEFAULT_PARK_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(200);

  /** Segment files are named {@code weft-<coordinatorId>-<linkId>}. */
  public static final String NAME_PREFIX = "weft-";

  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}");

  private Path directory = DEFAULT_DIRECTORY;
  private String coordinatorId;
  private String linkId;
  private int ringCapacity = DEFAULT_RING_CAPACITY;
  private int maxFrameLength = -1;
  private int maxFrameType = FrameHandler.MAX_TYPE;
  private long spinNs = AdaptiveIdleStrategy.spinNsFor(Runtime.getRuntime().availableProcessors());
  private long yieldNs = AdaptiveIdleStrategy.DEFAULT_YIELD_NS;
  private long parkTimeoutNs = DEFAULT_PARK_TIMEOUT_NS;
  private EpochClock epochClock = SystemEpochClock.INSTANCE;

  public Path directory() {
    return directory;
  }

  /** Where segment files live; /dev/shm unless a test says otherwise. */
  public ShmConfig directory(Path directory) {
    this.directory = Objects.requireNonNull(directory, "directory");
    return this;
  }

  public String coordinatorId() {
    return coordinatorId;
  }

  public ShmConfig coordinatorId(String coordinatorId) {
    this.coordinatorId = coordinatorId;
    return this;
  }

  public String linkId() {
    return linkId;
  }

  public ShmConfig linkId(String linkId) {
    this.linkId = linkId;
    return this;
  }

  public int ringCapacity() {
    return ringCapacity;
  }

  /** Bytes of frame data per direction; a power of two in [4 KiB, 256 MiB]. */
  public ShmConfig ringCapacity(int ringCapacity) {
    this.ringCapacity = ringCapacity;
    return this;
  }

  public int maxFrameLength() {
    return maxFrameLength;
  }

  /** The largest frame (reassembled); at most half the ring capacity, which is the default. */
  public ShmConfig maxFrameLength(int maxFrameLength) {
    this.maxFrameLength = maxFrameLength;
    return this;
  }

  public int maxFrameType() {
    return maxFrameType;
  }

  /** The receiver rejects frame types above this as corrupt. */
  public ShmConfig maxFrameType(int maxFrameType) {
    this.maxFrameType = maxFrameType;
    return this;
  }

  public long spinNs() {
    return spinNs;
  }

  /**
   * How long a waiting receiver spins before it yields, then sleeps; by default none below four
   * CPUs (see {@link AdaptiveIdleStrategy}).
   */
  public ShmConfig spinNs(long spinNs) {
    this.spinNs = spinNs;
    return this;
  }

  public long yieldNs() {
    return yieldNs;
  }

  /** How long a waiting receiver yields, after spinning, before it sleeps on the futex. */
  public ShmConfig yieldNs(long yieldNs) {
    this.yieldNs = yieldNs;
    return this;
  }

  public long parkTimeoutNs() {
    return parkTimeoutNs;
  }

  /** The longest single futex sleep, which bounds how late a receiver notices a dead producer. */
  public ShmConfig parkTimeoutNs(long parkTimeoutNs) {
    this.parkTimeoutNs = parkTimeoutNs;
    return this;
  }

  public EpochClock epochClock() {
    return epochClock;
  }

  /** The clock for heartbeats written at create and attach. */
  public ShmConfig epochClock(EpochClock epochClock) {
    this.epochClock = Objects.requireNonNull(epochClock, "epochClock");
    return this;
  }

  /** The segment's file: {@code <directory>/weft-<coordinatorId>-<linkId>}. */
  public Path segmentPath() {
    return directory.resolve(NAME_PREFIX + coordinatorId + "-" + linkId);
  }

  /**
   * Fills defaults and checks every field.
   *
   * @throws IllegalArgumentException naming the first bad field and its value
   */
  public ShmConfig conclude() {
    checkId("coordinatorId", coordinatorId);
    checkId("linkId", linkId);
    if (!SegmentDescriptor.isValidRingCapacity(ringCapacity)) {
      throw new IllegalArgumentException(
          "ringCapacity "
              + ringCapacity
              + " is not a power of two in ["
              + SegmentDescriptor.MIN_RING_CAPACITY
              + ", "
              + SegmentDescriptor.MAX_RING_CAPACITY
              + "]");
    }
    int limit = SegmentDescriptor.maxFrameLengthLimit(ringCapacity);
    if (maxFrameLength == -1) {
      maxFrameLength = limit;
    }
    if (maxFrameLength < 0 || maxFrameLength > limit) {
      throw new IllegalArgumentException(
          "maxFrameLength "
              + maxFrameLength
              + " is not in [0, "
              + limit
              + "] (half the ring capacity "
              + ringCapacity
              + ")");
    }
    if (maxFrameType < 1 || maxFrameType > FrameHandler.MAX_TYPE) {
      throw new IllegalArgumentException(
          "maxFrameType " + maxFrameType + " is not in [1, " + FrameHandler.MAX_TYPE + "]");
    }
    if (spinNs < 0 || yieldNs < 0) {
      throw new IllegalArgumentException(
          "spinNs " + spinNs + " and yieldNs " + yieldNs + " must not be negative");
    }
    if (parkTimeoutNs <= 0 || parkTimeoutNs > TimeUnit.SECONDS.toNanos(10)) {
      throw new IllegalArgumentException(
          "parkTimeoutNs " + parkTimeoutNs + " is not in (0, 10 s]: every sleep must end");
    }
    return this;
  }

  private static void checkId(String name, String value) {
    if (value == null || !ID.matcher(value).matches()) {
      throw new IllegalArgumentException(
          name + " '" + value + "' must be 1-100 of [A-Za-z0-9_.-], not starting with . or -");
    }
  }
}
