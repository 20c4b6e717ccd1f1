package dev.weft.local;

import static dev.weft.local.SegmentDescriptor.HEADER_LENGTH;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TAIL_POSITION_OFFSET;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(TestSegments.class)
class SegmentAttachTest {

  @Test
  void createsA0600FileOfTheDescribedSizeAndAttachesToIt() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config);
        ShmSegment attached = ShmSegment.attach(TestSegments.attacherOf(config))) {
      Path path = created.path();
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
      assertEquals(SegmentDescriptor.totalLength(64 * 1024, 64 * 1024), Files.size(path));
      assertEquals(HEADER_LENGTH, 1536);
      assertTrue(created.isCreator());
      assertFalse(attached.isCreator());
      assertEquals(ProcessHandle.current().pid(), created.peerPid());
      assertEquals(ProcessHandle.current().pid(), attached.peerPid());
      assertEquals(32 * 1024, attached.maxFrameLength());
      assertEquals(8 * 1024, attached.sender().maxRecordLength());
    }
  }

  @Test
  void createRefusesAnExistingFile() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config)) {
      assertThrows(FileAlreadyExistsException.class, () -> ShmSegment.create(config));
      assertTrue(Files.exists(created.path()));
    }
  }

  @Test
  void attachToAMissingSegmentFails() {
    assertThrows(NoSuchFileException.class, () -> ShmSegment.attach(TestSegments.config()));
  }

  @Test
  void refusesAFileTooSmallForTheHeader() throws IOException {
    ShmConfig config = TestSegments.config();
    Path path = config.segmentPath();
    Files.write(path, new byte[100]);
    try {
      SegmentFormatException e =
          assertThrows(SegmentFormatException.class, () -> ShmSegment.attach(config));
      assertEquals(
          "segment " + path + " is too small: 100 bytes, the header alone needs 1536",
          e.getMessage());
    } finally {
      Files.delete(path);
    }
  }

  @Test
  void refusesBadMagic() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config)) {
      Poke.putLong(created.path(), SegmentDescriptor.MAGIC_OFFSET, 0x1234L);
      SegmentFormatException e =
          assertThrows(
              SegmentFormatException.class,
              () -> ShmSegment.attach(TestSegments.attacherOf(config)));
      assertEquals(
          "segment "
              + created.path()
              + " has magic 0x0000000000001234, expected 0x314d485354464557: not a weft segment,"
              + " or not initialised yet",
          e.getMessage());
    }
  }

  @Test
  void refusesAnotherMajorVersionButTakesAnotherMinor() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config)) {
      Poke.putInt(created.path(), SegmentDescriptor.VERSION_OFFSET, (2 << 16) | 3);
      SegmentFormatException e =
          assertThrows(
              SegmentFormatException.class,
              () -> ShmSegment.attach(TestSegments.attacherOf(config)));
      assertEquals(
          "segment " + created.path() + " has layout version 2.3; this build reads version 1.x",
          e.getMessage());

      Poke.putInt(created.path(), SegmentDescriptor.VERSION_OFFSET, (1 << 16) | 7);
      try (ShmSegment attached = ShmSegment.attach(TestSegments.attacherOf(config))) {
        assertTrue(attached.isPeerAlive());
      }
    }
  }

  @Test
  void refusesARingCapacityThatIsNotAPowerOfTwo() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config)) {
      Poke.putInt(created.path(), SegmentDescriptor.CAPACITY_TO_CREATOR_OFFSET, 5000);
      SegmentFormatException e =
          assertThrows(
              SegmentFormatException.class,
              () -> ShmSegment.attach(TestSegments.attacherOf(config)));
      assertEquals(
          "segment "
              + created.path()
              + ": ring attacher->creator has capacity 5000, not a power of two in [4096,"
              + " 268435456]",
          e.getMessage());
    }
  }

  @Test
  void refusesATotalLengthThatDisagreesWithTheRings() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config)) {
      Poke.putInt(created.path(), SegmentDescriptor.CAPACITY_TO_CREATOR_OFFSET, 1 << 20);
      SegmentFormatException e =
          assertThrows(
              SegmentFormatException.class,
              () -> ShmSegment.attach(TestSegments.attacherOf(config)));
      assertEquals(
          "segment "
              + created.path()
              + " has total length 134144, but its header and rings take 1117184",
          e.getMessage());
    }
  }

  @Test
  void refusesRingPositionsNoProducerLeaves() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config)) {
      long tailOffset =
          SegmentDescriptor.RING_TO_ATTACHER_OFFSET + 64 * 1024 + TAIL_POSITION_OFFSET;
      Poke.putLong(created.path(), tailOffset, 12);
      SegmentFormatException e =
          assertThrows(
              SegmentFormatException.class,
              () -> ShmSegment.attach(TestSegments.attacherOf(config)));
      assertEquals(
          "segment "
              + created.path()
              + ": ring creator->attacher has head 0 and tail 12, which no producer of a ring of"
              + " 65536 bytes can leave",
          e.getMessage());
    }
  }

  @Test
  void refusesASecondAttacherAndAClosedSegment() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config);
        ShmSegment attached = ShmSegment.attach(TestSegments.attacherOf(config))) {
      IOException e =
          assertThrows(IOException.class, () -> ShmSegment.attach(TestSegments.attacherOf(config)));
      assertEquals(
          "segment "
              + created.path()
              + " is already attached by pid "
              + ProcessHandle.current().pid(),
          e.getMessage());
      assertTrue(attached.isPeerAttached());
    }
    ShmConfig second = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(second)) {
      Poke.putInt(created.path(), SegmentDescriptor.CREATOR_CLOSED_OFFSET, 1);
      IOException e =
          assertThrows(IOException.class, () -> ShmSegment.attach(TestSegments.attacherOf(second)));
      assertEquals("segment " + created.path() + " was closed by its creator", e.getMessage());
    }
  }

  @Test
  void closeByTheCreatorUnlinksAndTellsThePeer() throws IOException {
    ShmConfig config = TestSegments.config();
    ShmSegment created = ShmSegment.create(config);
    try (ShmSegment attached = ShmSegment.attach(TestSegments.attacherOf(config))) {
      assertFalse(attached.isPeerClosed());
      created.close();
      created.close();
      assertFalse(Files.exists(config.segmentPath()));
      assertTrue(attached.isPeerClosed());
      assertFalse(attached.isPeerAlive());
      // the attacher's mapping stays usable until it closes
      assertTrue(attached.sender().offer(1, new byte[] {1, 2, 3}));
    } finally {
      created.close();
    }
  }

  @Test
  void usingAClosedSegmentIsAnIllegalState() throws IOException {
    ShmConfig config = TestSegments.config();
    ShmSegment created = ShmSegment.create(config);
    created.close();
    IllegalStateException offer =
        assertThrows(IllegalStateException.class, () -> created.sender().offer(1, new byte[1]));
    assertEquals("sender of " + created.path() + " is closed", offer.getMessage());
    assertThrows(IllegalStateException.class, () -> created.receiver().poll((t, p) -> {}, 1));
    assertThrows(IllegalStateException.class, created::peerHeartbeatMs);
  }

  @Test
  void theAttacherReadsTheNonceTheCreatorWrote() throws IOException {
    ShmConfig config = TestSegments.config();
    try (ShmSegment created = ShmSegment.create(config);
        ShmSegment attached = ShmSegment.attach(TestSegments.attacherOf(config))) {
      assertArrayEquals(new byte[0], attached.readNonce());
      byte[] nonce = new byte[32];
      new java.security.SecureRandom().nextBytes(nonce);
      created.writeNonce(nonce);
      assertArrayEquals(nonce, attached.readNonce());
      assertThrows(IllegalStateException.class, () -> attached.writeNonce(nonce));
      assertThrows(IllegalArgumentException.class, () -> created.writeNonce(new byte[65]));
    }
  }

  @Test
  void heartbeatsGoStaleAfterTheirTimeout() throws IOException {
    ShmConfig config = TestSegments.config().epochClock(() -> 1_000);
    try (ShmSegment created = ShmSegment.create(config)) {
      assertFalse(created.isPeerStale(1_000_000, 500), "not attached yet: not stale");
      try (ShmSegment attached =
          ShmSegment.attach(TestSegments.attacherOf(config).epochClock(() -> 2_000))) {
        assertEquals(2_000, created.peerHeartbeatMs());
        assertEquals(1_000, attached.peerHeartbeatMs());
        assertFalse(created.isPeerStale(2_500, 500));
        assertTrue(created.isPeerStale(2_501, 500));
        attached.heartbeat(5_000);
        assertFalse(created.isPeerStale(5_400, 500));
      }
    }
  }

  @Test
  void configRulesNameTheBadField() {
    assertEquals(
        "ringCapacity 5000 is not a power of two in [4096, 268435456]",
        assertThrows(
                IllegalArgumentException.class,
                () -> TestSegments.config().ringCapacity(5000).conclude())
            .getMessage());
    assertEquals(
        "maxFrameLength 40000 is not in [0, 32768] (half the ring capacity 65536)",
        assertThrows(
                IllegalArgumentException.class,
                () -> TestSegments.config().maxFrameLength(40_000).conclude())
            .getMessage());
    assertEquals(
        "linkId 'a/b' must be 1-100 of [A-Za-z0-9_.-], not starting with . or -",
        assertThrows(
                IllegalArgumentException.class,
                () -> TestSegments.config().linkId("a/b").conclude())
            .getMessage());
    assertEquals(
        "parkTimeoutNs 0 is not in (0, 10 s]: every sleep must end",
        assertThrows(
                IllegalArgumentException.class,
                () -> TestSegments.config().parkTimeoutNs(0).conclude())
            .getMessage());
  }
}
