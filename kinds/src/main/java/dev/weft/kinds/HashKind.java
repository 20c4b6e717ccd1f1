package dev.weft.kinds;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.WireFormat;
import dev.weft.v1.HashParams;
import dev.weft.v1.HashResult;
import dev.weft.v1.HashTask;
import dev.weft.v1.HashTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * {@code hash}: the coordinator reads a file chunk by chunk as it dispatches tasks, workers return
 * each chunk's SHA-256, and the result is the SHA-256 over the chunk digests in file order.
 */
public final class HashKind implements JobKind {
  static final int MAX_CHUNK_BYTES = 64 * 1024 * 1024;
  static final int DEFAULT_CHUNK_BYTES = 1024 * 1024;
  private static final int DIGEST_BYTES = 32;
  // Large chunks are digested in slices so cancellation is noticed within milliseconds.
  private static final int SLICE_BYTES = 1024 * 1024;

  public HashKind() {}

  @Override
  public String name() {
    return "hash";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasHash()) {
      throw new InvalidJobException("params", "a hash job needs hash parameters");
    }
    HashParams params = spec.getHash();
    TaskCount.checkFields(spec);
    long chunkBytes = params.getChunkBytes();
    if (chunkBytes < 0 || chunkBytes > MAX_CHUNK_BYTES) {
      throw new InvalidJobException(
          "hash.chunk_bytes",
          "must be between 1 and "
              + MAX_CHUNK_BYTES
              + ", or 0 for the default "
              + DEFAULT_CHUNK_BYTES
              + " (got "
              + chunkBytes
              + ")");
    }
    if (spec.getTaskSize() > MAX_CHUNK_BYTES) {
      throw new InvalidJobException(
          "task_size",
          "must be between 1 and "
              + MAX_CHUNK_BYTES
              + " for hash jobs (got "
              + spec.getTaskSize()
              + ")");
    }
    if (spec.getTasks() != 0 && chunkBytes != 0) {
      throw new InvalidJobException("tasks", "set tasks or hash.chunk_bytes, not both");
    }
    Path path = readableFile(params.getPath());
    long size;
    try {
      size = Files.size(path);
    } catch (IOException e) {
      throw new InvalidJobException(
          "hash.path", "cannot read the size of " + params.getPath() + ": " + e.getMessage());
    }
    if (size == 0) {
      return new Plan(path, 0, null);
    }
    if (spec.getTasks() != 0) {
      RangeSplit split = RangeSplit.even(0, size - 1, spec.getTasks());
      BigInteger largest = split.elements(0);
      if (largest.compareTo(BigInteger.valueOf(MAX_CHUNK_BYTES)) > 0) {
        throw new InvalidJobException(
            "tasks",
            spec.getTasks()
                + " tasks give chunks of "
                + largest
                + " bytes; at most "
                + MAX_CHUNK_BYTES
                + " bytes per chunk, so tasks must be >= "
                + Math.ceilDiv(size, MAX_CHUNK_BYTES));
      }
      return new Plan(path, size, split);
    }
    String field = spec.getTaskSize() != 0 ? "task_size" : "hash.chunk_bytes";
    long chunk =
        spec.getTaskSize() != 0
            ? spec.getTaskSize()
            : chunkBytes != 0 ? chunkBytes : DEFAULT_CHUNK_BYTES;
    long chunks = Math.ceilDiv(size, chunk);
    if (chunks > JobKinds.MAX_TASKS) {
      throw new InvalidJobException(
          field,
          "chunks of "
              + chunk
              + " bytes give "
              + chunks
              + " tasks for "
              + size
              + " bytes; at most "
              + JobKinds.MAX_TASKS
              + " tasks per job, so chunks must be >= "
              + Math.ceilDiv(size, JobKinds.MAX_TASKS)
              + " bytes");
    }
    return new Plan(path, size, RangeSplit.ofSize(0, size - 1, chunk));
  }

  private static Path readableFile(String name) throws InvalidJobException {
    if (name.isEmpty()) {
      throw new InvalidJobException("hash.path", "must name a file (got an empty path)");
    }
    Path path;
    try {
      path = Path.of(name).toAbsolutePath();
    } catch (InvalidPathException e) {
      throw new InvalidJobException("hash.path", "not a valid path: " + e.getMessage());
    }
    if (!Files.exists(path)) {
      throw new InvalidJobException("hash.path", "no such file: " + name);
    }
    if (Files.isDirectory(path)) {
      throw new InvalidJobException("hash.path", "is a directory: " + name);
    }
    if (!Files.isRegularFile(path)) {
      throw new InvalidJobException("hash.path", "not a regular file: " + name);
    }
    if (!Files.isReadable(path)) {
      throw new InvalidJobException("hash.path", "not readable: " + name);
    }
    return path;
  }

  @Override
  public ByteString run(ByteString input, TaskContext context)
      throws TaskFailedException, InterruptedException {
    // Aliasing lets the data field share the input's bytes: a chunk may be 64 MiB.
    CodedInputStream in = input.newCodedInput();
    in.enableAliasing(true);
    HashTask task;
    try {
      task = HashTask.parseFrom(in);
    } catch (IOException e) {
      throw new TaskFailedException("hash: task input is not a HashTask: " + e.getMessage());
    }
    MessageDigest digest = sha256();
    ByteBuffer data = task.getData().asReadOnlyByteBuffer();
    while (data.hasRemaining()) {
      context.checkCancelled();
      ByteBuffer slice = data.slice(data.position(), Math.min(SLICE_BYTES, data.remaining()));
      digest.update(slice);
      data.position(data.position() + slice.capacity());
    }
    return HashTaskOutput.newBuilder()
        .setSha256(ByteString.copyFrom(digest.digest()))
        .build()
        .toByteString();
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    if (!(plan instanceof Plan hashPlan)) {
      throw new IllegalArgumentException("a hash reduction needs the plan made by HashKind.plan");
    }
    return new Reduction(hashPlan);
  }

  /** Holds only the path and size; each chunk is read from the file when its task is sent. */
  static final class Plan implements TaskPlan {
    private final Path path;
    private final long size;
    private final RangeSplit split; // null for an empty file, which is one task with no data

    private Plan(Path path, long size, RangeSplit split) {
      this.path = path;
      this.size = size;
      this.split = split;
    }

    long size() {
      return size;
    }

    @Override
    public int taskCount() {
      return split == null ? 1 : split.count();
    }

    @Override
    public boolean readsFiles() {
      return true;
    }

    @Override
    public ByteString input(int task) throws IOException {
      if (split == null) {
        if (task != 0) {
          throw new IndexOutOfBoundsException("task " + task + " of 1");
        }
        return HashTask.getDefaultInstance().toByteString();
      }
      long offset = split.from(task);
      int length = Math.toIntExact(split.to(task) - offset + 1);
      // The HashTask is encoded by hand so the chunk is read straight into the message's bytes.
      int header =
          CodedOutputStream.computeTagSize(HashTask.DATA_FIELD_NUMBER)
              + CodedOutputStream.computeUInt32SizeNoTag(length);
      byte[] message = new byte[header + length];
      CodedOutputStream out = CodedOutputStream.newInstance(message, 0, header);
      out.writeTag(HashTask.DATA_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      out.writeUInt32NoTag(length);
      out.checkNoSpaceLeft();
      try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
        if (channel.size() != size) {
          throw changed(channel.size());
        }
        ByteBuffer chunk = ByteBuffer.wrap(message, header, length);
        while (chunk.hasRemaining()) {
          if (channel.read(chunk, offset + chunk.position() - header) < 0) {
            throw changed(channel.size());
          }
        }
      }
      return UnsafeByteOperations.unsafeWrap(message);
    }

    private IOException changed(long now) {
      return new IOException(
          "hash.path: "
              + path
              + " is "
              + now
              + " bytes, but was "
              + size
              + " when the job was planned");
    }

    @Override
    public String describe(int task) {
      if (split == null) {
        return "bytes 0..-1 (empty file)";
      }
      return "bytes " + split.from(task) + ".." + split.to(task);
    }
  }

  private static final class Reduction implements JobReduction {
    private final Plan plan;
    private final AddedTasks added;
    private final byte[][] digests;

    Reduction(Plan plan) {
      this.plan = plan;
      this.added = new AddedTasks("hash", plan.taskCount());
      this.digests = new byte[plan.taskCount()][];
    }

    @Override
    public void add(int task, ByteString output) throws InvalidTaskOutputException {
      HashTaskOutput result = added.parse(HashTaskOutput.parser(), task, output);
      if (result.getSha256().size() != DIGEST_BYTES) {
        throw new InvalidTaskOutputException(
            "hash task "
                + task
                + ": a SHA-256 digest has "
                + DIGEST_BYTES
                + " bytes, got "
                + result.getSha256().size());
      }
      if (added.first(task)) {
        digests[task] = result.getSha256().toByteArray();
      }
    }

    @Override
    public JobResult result() {
      added.requireAll();
      HexFormat hex = HexFormat.of();
      HashResult.Builder result = HashResult.newBuilder().setBytes(plan.size());
      MessageDigest overall = sha256();
      for (byte[] digest : digests) {
        result.addChunkSha256(hex.formatHex(digest));
        overall.update(digest);
      }
      String sha256 = hex.formatHex(overall.digest());
      int chunks = digests.length;
      return JobResult.newBuilder()
          .setHash(result.setSha256(sha256))
          .setSummary(
              sha256
                  + " ("
                  + plan.size()
                  + " bytes in "
                  + chunks
                  + (chunks == 1 ? " chunk)" : " chunks)"))
          .build();
    }
  }
}
