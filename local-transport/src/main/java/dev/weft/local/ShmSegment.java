package dev.weft.local;

import static dev.weft.local.SegmentDescriptor.ATTACHER_CLOSED_OFFSET;
import static dev.weft.local.SegmentDescriptor.ATTACHER_HEARTBEAT_OFFSET;
import static dev.weft.local.SegmentDescriptor.ATTACHER_PID_OFFSET;
import static dev.weft.local.SegmentDescriptor.ATTACHER_START_OFFSET;
import static dev.weft.local.SegmentDescriptor.CAPACITY_TO_ATTACHER_OFFSET;
import static dev.weft.local.SegmentDescriptor.CAPACITY_TO_CREATOR_OFFSET;
import static dev.weft.local.SegmentDescriptor.CREATOR_CLOSED_OFFSET;
import static dev.weft.local.SegmentDescriptor.CREATOR_HEARTBEAT_OFFSET;
import static dev.weft.local.SegmentDescriptor.CREATOR_PID_OFFSET;
import static dev.weft.local.SegmentDescriptor.CREATOR_START_OFFSET;
import static dev.weft.local.SegmentDescriptor.HEADER_LENGTH;
import static dev.weft.local.SegmentDescriptor.HEADER_LENGTH_OFFSET;
import static dev.weft.local.SegmentDescriptor.INT;
import static dev.weft.local.SegmentDescriptor.LONG;
import static dev.weft.local.SegmentDescriptor.MAGIC;
import static dev.weft.local.SegmentDescriptor.MAGIC_OFFSET;
import static dev.weft.local.SegmentDescriptor.MAX_FRAME_LENGTH_OFFSET;
import static dev.weft.local.SegmentDescriptor.MAX_NONCE_LENGTH;
import static dev.weft.local.SegmentDescriptor.NONCE_LENGTH_OFFSET;
import static dev.weft.local.SegmentDescriptor.NONCE_OFFSET;
import static dev.weft.local.SegmentDescriptor.RING_TO_ATTACHER_OFFSET;
import static dev.weft.local.SegmentDescriptor.SLEEPING_TO_ATTACHER_OFFSET;
import static dev.weft.local.SegmentDescriptor.SLEEPING_TO_CREATOR_OFFSET;
import static dev.weft.local.SegmentDescriptor.TOTAL_LENGTH_OFFSET;
import static dev.weft.local.SegmentDescriptor.VERSION;
import static dev.weft.local.SegmentDescriptor.VERSION_OFFSET;
import static dev.weft.local.SegmentDescriptor.WAKE_TO_ATTACHER_OFFSET;
import static dev.weft.local.SegmentDescriptor.WAKE_TO_CREATOR_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TRAILER_LENGTH;

import dev.weft.posix.Futex;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One shared-memory link between two processes on a host: a file in /dev/shm (mode 0600) holding a
 * versioned header and two rings of frames, one per direction (layout in {@code
 * SegmentDescriptor}). The creator (the coordinator) makes it with {@link #create}, the attacher
 * (the worker) maps it with {@link #attach}; each then sends on {@link #sender()} and receives on
 * {@link #receiver()}, which point at opposite rings on the two sides.
 *
 * <p>The header also carries what the link needs to judge its peer: pids with start times,
 * heartbeats, "closed" flags, and a nonce the creator writes so the attacher can prove it maps the
 * same memory.
 *
 * <p>Whoever creates or attaches a segment closes it. {@link #close()} unlinks the file if this
 * side created it, tells the peer, and unmaps once no thread is inside the sender or receiver; it
 * may be called from any thread, including a frame handler.
 *
 * <p>Trust: a peer that can write the file (the same uid) can make frames fail validation, which
 * the receiver reports, but it could also truncate the file and make our accesses fault. Passing a
 * sealed memfd instead of a path would close that hole.
 */
public final class ShmSegment implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(ShmSegment.class.getName());
  private static final Duration DEFAULT_UNPARSABLE_AGE = Duration.ofMinutes(10);
  private static final long MAX_SEGMENT_LENGTH =
      SegmentDescriptor.totalLength(
          SegmentDescriptor.MAX_RING_CAPACITY, SegmentDescriptor.MAX_RING_CAPACITY);
  private static final int ZERO_FILL_CHUNK = 1 << 16;

  private final Path path;
  private final boolean creator;
  private final Arena arena;
  private final MemorySegment memory;
  private final ShmConfig config;
  private final int maxFrameLength;
  private final Doorbell outboundBell;
  private final Doorbell inboundBell;
  private final EndpointGuard senderGuard;
  private final EndpointGuard receiverGuard;
  private final FrameSender sender;
  private final FrameReceiver receiver;
  private final AtomicBoolean closed = new AtomicBoolean();
  // The peer once verified by pid and start time, so later checks stay cheap.
  private volatile ProcessHandle peerProcess;
  // Sender, receiver and close() itself each give one back when done with the mapping.
  private final AtomicInteger mappingUsers = new AtomicInteger(3);

  private ShmSegment(
      Path path,
      boolean creator,
      Arena arena,
      MemorySegment memory,
      int capacityToAttacher,
      int capacityToCreator,
      int maxFrameLength,
      ShmConfig config) {
    this.path = path;
    this.creator = creator;
    this.arena = arena;
    this.memory = memory;
    this.config = config;
    this.maxFrameLength = maxFrameLength;
    long toCreatorOffset = SegmentDescriptor.ringToCreatorOffset(capacityToAttacher);
    MemorySegment toAttacher =
        memory.asSlice(RING_TO_ATTACHER_OFFSET, capacityToAttacher + TRAILER_LENGTH);
    MemorySegment toCreator = memory.asSlice(toCreatorOffset, capacityToCreator + TRAILER_LENGTH);
    Doorbell toAttacherBell = doorbell(WAKE_TO_ATTACHER_OFFSET, SLEEPING_TO_ATTACHER_OFFSET);
    Doorbell toCreatorBell = doorbell(WAKE_TO_CREATOR_OFFSET, SLEEPING_TO_CREATOR_OFFSET);
    this.outboundBell = creator ? toAttacherBell : toCreatorBell;
    this.inboundBell = creator ? toCreatorBell : toAttacherBell;
    this.senderGuard = new EndpointGuard("sender of " + path, this::releaseMapping);
    this.receiverGuard = new EndpointGuard("receiver of " + path, this::releaseMapping);
    this.sender =
        new FrameSender(
            creator ? toAttacher : toCreator,
            creator ? capacityToAttacher : capacityToCreator,
            maxFrameLength,
            outboundBell,
            senderGuard);
    this.receiver =
        new FrameReceiver(
            creator ? toCreator : toAttacher,
            creator ? capacityToCreator : capacityToAttacher,
            maxFrameLength,
            inboundBell,
            receiverGuard,
            this::isPeerClosed,
            config);
  }

  /**
   * Creates {@code <directory>/weft-<coordinatorId>-<linkId>} (it must not exist), maps it and
   * writes the header. Its pages are allocated now, so a full /dev/shm fails here rather than as a
   * fault later.
   *
   * @throws java.nio.file.FileAlreadyExistsException if the file exists
   */
  public static ShmSegment create(ShmConfig config) throws IOException {
    config.conclude();
    checkPlatform();
    Path path = config.segmentPath();
    int capacity = config.ringCapacity();
    long totalLength = SegmentDescriptor.totalLength(capacity, capacity);
    Arena arena = null;
    try (FileChannel channel =
        FileChannel.open(
            path,
            EnumSet.of(
                StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
      try {
        zeroFill(channel, totalLength);
        arena = Arena.ofShared();
        MemorySegment memory = channel.map(FileChannel.MapMode.READ_WRITE, 0, totalLength, arena);
        writeHeader(memory, totalLength, capacity, config);
        return new ShmSegment(
            path, true, arena, memory, capacity, capacity, config.maxFrameLength(), config);
      } catch (IOException | RuntimeException | Error e) {
        if (arena != null) {
          arena.close();
        }
        deleteAfterFailure(path, e);
        throw e;
      }
    }
  }

  /**
   * Maps an existing segment as its attacher, after checking its header and ring positions, and
   * records this process as the attacher (only one may attach, once).
   *
   * @throws SegmentFormatException if the file is not a segment this build can use
   * @throws IOException if it is missing, not ours, closed, or already attached
   */
  public static ShmSegment attach(ShmConfig config) throws IOException {
    config.conclude();
    checkPlatform();
    Path path = config.segmentPath();
    try (FileChannel channel =
        FileChannel.open(
            path, StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
      Object owner = Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      int uid = HostIdentity.currentUid();
      if (!(owner instanceof Integer ownerUid) || ownerUid != uid) {
        throw new IOException(
            "segment " + path + " belongs to uid " + owner + ", not to this process's uid " + uid);
      }
      long size = channel.size();
      if (size > MAX_SEGMENT_LENGTH) {
        throw new SegmentFormatException(
            "segment " + path + " is " + size + " bytes, more than any segment can be");
      }
      Arena arena = Arena.ofShared();
      try {
        MemorySegment memory = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
        SegmentDescriptor.Header header = SegmentDescriptor.parse(memory, size, path);
        if (header.creatorClosed()) {
          throw new IOException("segment " + path + " was closed by its creator");
        }
        SegmentDescriptor.checkRingPositions(
            memory.asSlice(RING_TO_ATTACHER_OFFSET, header.capacityToAttacher() + TRAILER_LENGTH),
            header.capacityToAttacher(),
            "creator->attacher",
            path);
        SegmentDescriptor.checkRingPositions(
            memory.asSlice(
                SegmentDescriptor.ringToCreatorOffset(header.capacityToAttacher()),
                header.capacityToCreator() + TRAILER_LENGTH),
            header.capacityToCreator(),
            "attacher->creator",
            path);
        ProcessHandle self = ProcessHandle.current();
        long previous =
            (long) LONG.compareAndExchange(memory, (long) ATTACHER_PID_OFFSET, 0L, self.pid());
        if (previous != 0) {
          throw new IOException("segment " + path + " is already attached by pid " + previous);
        }
        LONG.setRelease(memory, (long) ATTACHER_START_OFFSET, ProcessLiveness.startTimeMs(self));
        LONG.setRelease(memory, (long) ATTACHER_HEARTBEAT_OFFSET, config.epochClock().time());
        return new ShmSegment(
            path,
            false,
            arena,
            memory,
            header.capacityToAttacher(),
            header.capacityToCreator(),
            header.maxFrameLength(),
            config);
      } catch (IOException | RuntimeException | Error e) {
        arena.close();
        throw e;
      }
    }
  }

  /**
   * Removes /dev/shm/weft-* segments whose creator is gone or closed them, and unreadable ones
   * older than ten minutes; returns what it removed. Run at start-up.
   */
  public static List<Path> sweepStale() throws IOException {
    return sweepStale(
        ShmConfig.DEFAULT_DIRECTORY, DEFAULT_UNPARSABLE_AGE, System.currentTimeMillis());
  }

  /** {@link #sweepStale()} for another directory, age limit for unreadable files, and time. */
  public static List<Path> sweepStale(Path directory, Duration unparsableAge, long nowMs)
      throws IOException {
    return StaleSegmentSweeper.sweep(directory, unparsableAge, nowMs);
  }

  public Path path() {
    return path;
  }

  /** True on the side that created the file (and will unlink it). */
  public boolean isCreator() {
    return creator;
  }

  /** Frames to the peer. */
  public FrameSender sender() {
    return sender;
  }

  /** Frames from the peer. */
  public FrameReceiver receiver() {
    return receiver;
  }

  /** The largest frame either direction carries, as the creator chose it. */
  public int maxFrameLength() {
    return maxFrameLength;
  }

  /**
   * Writes the nonce the attacher will read back to prove it maps this memory. Creator only; at
   * most 64 bytes.
   */
  public void writeNonce(byte[] nonce) {
    if (!creator) {
      throw new IllegalStateException("only the creator of " + path + " writes its nonce");
    }
    if (nonce.length > MAX_NONCE_LENGTH) {
      throw new IllegalArgumentException(
          "nonce of " + nonce.length + " bytes is longer than " + MAX_NONCE_LENGTH);
    }
    INT.setRelease(memory, (long) NONCE_LENGTH_OFFSET, 0);
    MemorySegment.copy(nonce, 0, memory, ValueLayout.JAVA_BYTE, NONCE_OFFSET, nonce.length);
    INT.setRelease(memory, (long) NONCE_LENGTH_OFFSET, nonce.length);
  }

  /** The nonce the creator wrote, empty if none (or if the length there is out of range). */
  public byte[] readNonce() {
    int length = (int) INT.getAcquire(memory, (long) NONCE_LENGTH_OFFSET);
    if (length <= 0 || length > MAX_NONCE_LENGTH) {
      return new byte[0];
    }
    byte[] nonce = new byte[length];
    MemorySegment.copy(memory, ValueLayout.JAVA_BYTE, NONCE_OFFSET, nonce, 0, length);
    return nonce;
  }

  /** Records that this side is alive, as of now by the configured epoch clock. */
  public void heartbeat() {
    heartbeat(config.epochClock().time());
  }

  /** Records that this side is alive, as of {@code epochMs}. */
  public void heartbeat(long epochMs) {
    LONG.setRelease(
        memory, (long) (creator ? CREATOR_HEARTBEAT_OFFSET : ATTACHER_HEARTBEAT_OFFSET), epochMs);
  }

  /** The peer's last heartbeat in epoch millis; 0 if it has not attached. */
  public long peerHeartbeatMs() {
    return (long)
        LONG.getAcquire(
            memory, (long) (creator ? ATTACHER_HEARTBEAT_OFFSET : CREATOR_HEARTBEAT_OFFSET));
  }

  /**
   * True when the peer has attached and its last heartbeat is more than {@code timeoutMs} before
   * {@code nowMs}. A peer that never attached is not stale: give it an attach deadline of your own.
   */
  public boolean isPeerStale(long nowMs, long timeoutMs) {
    long heartbeat = peerHeartbeatMs();
    return heartbeat != 0 && nowMs - heartbeat > timeoutMs;
  }

  /** The peer's pid, or 0 while no attacher has attached. */
  public long peerPid() {
    return (long)
        LONG.getAcquire(memory, (long) (creator ? ATTACHER_PID_OFFSET : CREATOR_PID_OFFSET));
  }

  public boolean isPeerAttached() {
    return peerPid() != 0;
  }

  /** True when the peer closed its side of the link. */
  public boolean isPeerClosed() {
    return (int)
            INT.getAcquire(
                memory, (long) (creator ? ATTACHER_CLOSED_OFFSET : CREATOR_CLOSED_OFFSET))
        != 0;
  }

  /**
   * True when the peer has attached, has not closed, and its process (same pid, same start time)
   * still runs. Does not look at heartbeats: a hung peer is alive; see {@link #isPeerStale}.
   */
  public boolean isPeerAlive() {
    long pid = peerPid();
    long startMs =
        (long)
            LONG.getAcquire(
                memory, (long) (creator ? ATTACHER_START_OFFSET : CREATOR_START_OFFSET));
    if (pid == 0 || isPeerClosed()) {
      return false;
    }
    ProcessHandle known = peerProcess;
    if (known != null && known.pid() == pid) {
      return known.isAlive();
    }
    Optional<ProcessHandle> verified = ProcessLiveness.verified(pid, startMs);
    verified.ifPresent(process -> peerProcess = process);
    return verified.isPresent();
  }

  public boolean isClosed() {
    return closed.get();
  }

  /**
   * Closes this side: sets its closed flag, wakes both receivers (the peer's, so it notices, and
   * ours, so a thread waiting in it returns), unlinks the file if this side created it, and unmaps
   * once the sender and receiver are not in use. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    // Guards first: a receiver about to sleep re-checks its guard after announcing the sleep,
    // and the wake-ups below come after, so it either sees the mark or is woken.
    int drained = (senderGuard.close() ? 1 : 0) + (receiverGuard.close() ? 1 : 0);
    try {
      INT.setRelease(memory, (long) (creator ? CREATOR_CLOSED_OFFSET : ATTACHER_CLOSED_OFFSET), 1);
      outboundBell.wake();
      inboundBell.wake();
      if (creator) {
        try {
          Files.deleteIfExists(path);
        } catch (IOException e) {
          LOG.log(System.Logger.Level.WARNING, "could not unlink segment " + path, e);
        }
      }
    } finally {
      for (int i = 0; i < drained; i++) {
        releaseMapping();
      }
      releaseMapping();
    }
  }

  @Override
  public String toString() {
    return "ShmSegment[" + path + (creator ? ", creator" : ", attacher") + "]";
  }

  private void releaseMapping() {
    if (mappingUsers.decrementAndGet() == 0) {
      arena.close();
    }
  }

  private Doorbell doorbell(long wordOffset, long sleepingOffset) {
    return new Doorbell(
        memory.asSlice(wordOffset, Integer.BYTES), memory.asSlice(sleepingOffset, Integer.BYTES));
  }

  private static void writeHeader(
      MemorySegment memory, long totalLength, int capacity, ShmConfig config) {
    ProcessHandle self = ProcessHandle.current();
    INT.set(memory, (long) VERSION_OFFSET, VERSION);
    INT.set(memory, (long) HEADER_LENGTH_OFFSET, HEADER_LENGTH);
    LONG.set(memory, (long) TOTAL_LENGTH_OFFSET, totalLength);
    INT.set(memory, (long) CAPACITY_TO_ATTACHER_OFFSET, capacity);
    INT.set(memory, (long) CAPACITY_TO_CREATOR_OFFSET, capacity);
    INT.set(memory, (long) MAX_FRAME_LENGTH_OFFSET, config.maxFrameLength());
    LONG.set(memory, (long) CREATOR_PID_OFFSET, self.pid());
    LONG.set(memory, (long) CREATOR_START_OFFSET, ProcessLiveness.startTimeMs(self));
    LONG.set(memory, (long) CREATOR_HEARTBEAT_OFFSET, config.epochClock().time());
    // Last, with release: an attacher that sees the magic sees everything above.
    LONG.setRelease(memory, (long) MAGIC_OFFSET, MAGIC);
  }

  /** Writes zeros rather than extending the file, so tmpfs allocates (or refuses) pages now. */
  private static void zeroFill(FileChannel channel, long length) throws IOException {
    ByteBuffer zeros = ByteBuffer.allocateDirect(ZERO_FILL_CHUNK);
    long position = 0;
    while (position < length) {
      zeros.clear().limit((int) Math.min(ZERO_FILL_CHUNK, length - position));
      position += channel.write(zeros, position);
    }
  }

  private static void deleteAfterFailure(Path path, Throwable failure) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }

  private static void checkPlatform() {
    if (!Futex.isSupported()) {
      throw new UnsupportedOperationException(
          "shared-memory links need Linux on x86_64 or aarch64, not "
              + System.getProperty("os.name")
              + " on "
              + System.getProperty("os.arch"));
    }
  }
}
