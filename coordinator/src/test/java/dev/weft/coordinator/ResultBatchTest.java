package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.TaskFailure;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The packed rows of task results: what is written reads back, and damage is caught. */
class ResultBatchTest {
  @Test
  void resultsAndFailuresReadBackAsWritten() throws Exception {
    TaskFailure failure =
        TaskFailure.newBuilder().setTask(7).setAttempt(2).setError("boom").build();
    ResultBatch batch = new ResultBatch();
    batch.add(3, ByteString.copyFromUtf8("three"));
    batch.add(0, ByteString.EMPTY);
    batch.addFailure(7, ByteString.copyFromUtf8("tail"), failure, "task 7 after 2 attempts: boom");
    assertEquals(3, batch.count());

    List<Journal.SavedResult> read = new ArrayList<>();
    ResultBatch.decode(batch.toByteArray(), 8, read);
    assertEquals(
        List.of(
            new Journal.SavedResult(3, ByteString.copyFromUtf8("three"), null, null),
            new Journal.SavedResult(0, ByteString.EMPTY, null, null),
            new Journal.SavedResult(
                7, ByteString.copyFromUtf8("tail"), failure, "task 7 after 2 attempts: boom")),
        read);
    assertTrue(read.get(0).ok());
    assertFalse(read.get(2).ok());
  }

  @Test
  void aTaskOutsideTheJobOrATruncatedBatchIsRefused() {
    ResultBatch batch = new ResultBatch();
    batch.add(1, ByteString.copyFromUtf8("one"));
    batch.add(5, ByteString.copyFromUtf8("five"));
    byte[] bytes = batch.toByteArray();
    List<Journal.SavedResult> read = new ArrayList<>();
    InvalidProtocolBufferException outside =
        assertThrows(
            InvalidProtocolBufferException.class, () -> ResultBatch.decode(bytes, 5, read));
    assertEquals("result for task 5 of a job with 5 tasks", outside.getMessage());
    assertEquals(1, read.size()); // what came before the bad entry stays

    byte[] truncated = Arrays.copyOf(bytes, bytes.length - 2);
    assertThrows(
        InvalidProtocolBufferException.class,
        () -> ResultBatch.decode(truncated, 6, new ArrayList<>()));
    byte[] otherVersion = bytes.clone();
    otherVersion[0] = 9;
    InvalidProtocolBufferException version =
        assertThrows(
            InvalidProtocolBufferException.class,
            () -> ResultBatch.decode(otherVersion, 6, new ArrayList<>()));
    assertEquals("result batch of version 9, expected 1", version.getMessage());
  }
}
