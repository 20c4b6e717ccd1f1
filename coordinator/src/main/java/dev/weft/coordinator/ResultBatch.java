package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.TaskFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The task results of one job that one journal commit writes, packed into one row: a row per task
 * would cost the no-op task rate far more than the 20% the journal may take.
 *
 * <pre>
 * batch  := version:u8(1) entry*
 * entry  := varint(task &lt;&lt; 1 | failed) varint(output length) output
 *           [failed: varint(length) TaskFailure proto, varint(length) summary UTF-8]
 * </pre>
 *
 * Readers check every task index and length against the job before use.
 */
final class ResultBatch {
  static final int VERSION = 1;

  private final ByteString.Output bytes = ByteString.newOutput(256);
  private final CodedOutputStream out = CodedOutputStream.newInstance(bytes, 4096);
  private int count;

  ResultBatch() {
    write(() -> out.writeRawByte(VERSION));
  }

  void add(int task, ByteString output) {
    write(
        () -> {
          out.writeUInt32NoTag(task << 1);
          out.writeBytesNoTag(output);
        });
    count++;
  }

  void addFailure(int task, ByteString output, TaskFailure failure, String summary) {
    write(
        () -> {
          out.writeUInt32NoTag(task << 1 | 1);
          out.writeBytesNoTag(output);
          out.writeBytesNoTag(failure.toByteString());
          out.writeStringNoTag(summary);
        });
    count++;
  }

  int count() {
    return count;
  }

  byte[] toByteArray() {
    write(out::flush);
    return bytes.toByteString().toByteArray();
  }

  private interface Write {
    void run() throws IOException;
  }

  private static void write(Write write) {
    try {
      write.run();
    } catch (IOException e) {
      // ByteString.Output grows in memory: only a bug gets here.
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Appends the entries of {@code batch} to {@code into}.
   *
   * @throws InvalidProtocolBufferException when the batch is corrupt or names a task outside {@code
   *     0 .. tasks-1}
   */
  static void decode(byte[] batch, int tasks, List<Journal.SavedResult> into)
      throws InvalidProtocolBufferException {
    CodedInputStream in = CodedInputStream.newInstance(batch);
    try {
      int version = in.readRawByte() & 0xff;
      if (version != VERSION) {
        throw new InvalidProtocolBufferException(
            "result batch of version " + version + ", expected " + VERSION);
      }
      while (!in.isAtEnd()) {
        int head = in.readUInt32();
        int task = head >>> 1;
        if (task >= tasks) {
          throw new InvalidProtocolBufferException(
              "result for task " + task + " of a job with " + tasks + " tasks");
        }
        ByteString output = in.readBytes();
        if ((head & 1) == 0) {
          into.add(new Journal.SavedResult(task, output, null, null));
        } else {
          TaskFailure failure = TaskFailure.parseFrom(in.readBytes());
          into.add(new Journal.SavedResult(task, output, failure, in.readString()));
        }
      }
    } catch (InvalidProtocolBufferException e) {
      throw e;
    } catch (IOException e) {
      throw new InvalidProtocolBufferException(e);
    }
  }
}
