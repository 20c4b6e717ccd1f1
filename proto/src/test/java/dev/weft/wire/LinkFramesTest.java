package dev.weft.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.Assignments;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.TaskAssignment;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class LinkFramesTest {
  private static CoordinatorMessage message(byte[] input) {
    return CoordinatorMessage.newBuilder()
        .setAssignments(
            Assignments.newBuilder()
                .addTasks(
                    TaskAssignment.newBuilder()
                        .setAttemptId(7)
                        .setJobId("job-1")
                        .setKind("noop")
                        .setInput(ByteString.copyFrom(input))))
        .build();
  }

  @Test
  void messageParsedFromARingLikeBufferOutlivesTheBytesItCameFrom() throws Exception {
    byte[] input = new byte[100_000];
    for (int i = 0; i < input.length; i++) {
      input[i] = (byte) (i * 31 + 7);
    }
    CoordinatorMessage sent = message(input);
    int length = sent.getSerializedSize();
    ByteBuffer ring = ByteBuffer.allocateDirect(length + 16);
    LinkFrames.writeTo(sent, ring.slice(8, length));
    ByteBuffer frame = ring.duplicate().position(8).limit(8 + length);

    CoordinatorMessage received = LinkFrames.parse(CoordinatorMessage.parser(), frame);

    assertEquals(8, frame.position(), "the frame's position does not move");
    // The ring is reused for the next frame at once: the message must not see it.
    for (int i = 0; i < ring.capacity(); i++) {
      ring.put(i, (byte) 0x5A);
    }
    assertEquals(sent, received);
    assertEquals(
        ByteString.copyFrom(input), received.getAssignments().getTasks(0).getInput(), "input");
  }

  @Test
  void bytesThatAreNotAMessageAreRejected() {
    byte[] garbage = new byte[64];
    Arrays.fill(garbage, (byte) 0xFF);
    assertThrows(
        InvalidProtocolBufferException.class,
        () -> LinkFrames.parse(CoordinatorMessage.parser(), ByteBuffer.wrap(garbage)));
  }
}
