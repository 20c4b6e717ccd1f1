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
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * {@code hash}: the coordinator reads a file chunk by chunk as it dispatches tasks, workers return
 * each chunk's SHA-256, and the result is the SHA-256 over the chunk digests in file order.
 *
 * <p>The plan opens the file once, by a path without links ({@link PinnedFile}), and reads every
 * chunk from that open file; which files a client may name at all is the coordinator's to check
 * before it plans. Chunks are never shorter than {@link #MIN_CHUNK_BYTES}, except for a file that
 * is shorter itself.
 */
public final class HashKind implements JobKind {
  static final int MAX_CHUNK_BYTES = 64 * 1024 * 1024;

  /**
   * The smallest chunk: the digest of a chunk of a few bytes gives those bytes away (there are only
   * 256 one-byte chunks to try), and chunks are the client's to choose.
   */
  static final int MIN_CHUNK_BYTES = 4096;

  static final int DEFAULT_CHUNK_BYTES = 1024 * 1024;
  private static final int DIGEST_BYTES = 32;
  private static final String SMALL_CHUNKS =
      " (the digests of smaller chunks would give their bytes away)";
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
    if (chunkBytes != 0 && (chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES)) {
      throw new InvalidJobException(
          "hash.chunk_bytes",
          "must be between "
              + MIN_CHUNK_BYTES
              + " and "
              + MAX_CHUNK_BYTES
              + ", or 0 for the default "
              + DEFAULT_CHUNK_BYTES
              + " (got "
              + chunkBytes
              + ")"
              + (chunkBytes > 0 && chunkBytes < MIN_CHUNK_BYTES ? SMALL_CHUNKS : ""));
    }
    long taskSize = spec.getTaskSize();
    if (taskSize != 0 && (taskSize < MIN_CHUNK_BYTES || taskSize > MAX_CHUNK_BYTES)) {
      throw new InvalidJobException(
          "task_size",
          "must be between "
              + MIN_CHUNK_BYTES
              + " and "
              + MAX_CHUNK_BYTES
              + " for hash jobs (got "
              + taskSize
              + ")"
              + (taskSize < MIN_CHUNK_BYTES ? SMALL_CHUNKS : ""));
    }
    if (spec.getTasks() != 0 && chunkBytes != 0) {
      throw new InvalidJobException("tasks", "set tasks or hash.chunk_bytes, not both");
    }
    FileChannel file = open(params.getPath());
    try {
      Plan plan = plan(spec, file, chunkBytes);
      file = null; // the plan has it now
      return plan;
    } finally {
      if (file != null) {
        Plan.close(file, params.getPath());
      }
    }
  }

  private static Plan plan(JobSpec spec, FileChannel file, long chunkBytes)
      throws InvalidJobException {
    String name = spec.getHash().getPath();
    long size;
    try {
      size = file.size();
    } catch (IOException e) {
      throw new InvalidJobException(
          "hash.path", "cannot read the size of " + name + ": " + e.getMessage());
    }
    if (size == 0) {
      return new Plan(name, file, 0, 0, 1, null);
    }
    if (spec.getTasks() != 0) {
      long most = Math.max(1, size / MIN_CHUNK_BYTES);
      if (spec.getTasks() > most) {
        throw new InvalidJobException(
            "tasks",
            spec.getTasks()
                + " tasks give chunks of "
                + size / spec.getTasks()
                + " bytes of this "
                + size
                + "-byte file; chunks must be at least "
                + MIN_CHUNK_BYTES
                + " bytes"
                + SMALL_CHUNKS
                + ", so tasks must be <= "
                + most);
      }
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
      return new Plan(name, file, size, 0, split.count(), split);
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
    long rest = size % chunk;
    if (chunks > 1 && rest != 0 && rest < MIN_CHUNK_BYTES) {
      // A short last chunk would give its few bytes away, as a small chunk would: the chunk
      // before it takes them in.
      chunks--;
    }
    return new Plan(name, file, size, chunk, Math.toIntExact(chunks), null);
  }

  /**
   * The file named, opened once: every chunk is read from this open file, so what was checked when
   * the job was taken is what is read, whatever happens to the name afterwards.
   */
  private static FileChannel open(String name) throws InvalidJobException {
    if (name.isEmpty()) {
      throw new InvalidJobException("hash.path", "must name a file (got an empty path)");
    }
    Path path;
    try {
      path = Path.of(name).toAbsolutePath();
    } catch (InvalidPathException e) {
      throw new InvalidJobException("hash.path", "not a valid path: " + e.getMessage());
    }
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new InvalidJobException("hash.path", "no such file: " + name);
    } catch (IOException e) {
      throw new InvalidJobException("hash.path", "cannot read " + name + ": " + e.getMessage());
    }
    if (attributes.isDirectory()) {
      throw new InvalidJobException("hash.path", "is a directory: " + name);
    }
    if (attributes.isSymbolicLink()) {
      throw new InvalidJobException(
          "hash.path",
          "is a symbolic link: " + name + "; hash jobs read files by their own path, not links");
    }
    if (!attributes.isRegularFile()) {
      throw new InvalidJobException("hash.path", "not a regular file: " + name);
    }
    try {
      return PinnedFile.open(path);
    } catch (AccessDeniedException e) {
      throw new InvalidJobException("hash.path", "not readable: " + name);
    } catch (PinnedFile.NotPinnedException e) {
      throw new InvalidJobException(
          "hash.path", "not read: " + e.getMessage() + "; hash jobs read files, not links");
    } catch (IOException e) {
      throw new InvalidJobException("hash.path", "cannot open " + name + ": " + e.getMessage());
    }
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

  /**
   * Holds the open file and its size; each chunk is read from that open file, at its offset, when
   * its task is sent. Reads may run on several threads at once.
   */
  static final class Plan implements TaskPlan {
    private static final System.Logger LOG = System.getLogger(HashKind.class.getName());

    private final String name;
    private final FileChannel file;
    private final long size;
    private final long chunk; // 0 when split evenly
    private final int count;
    private final RangeSplit even; // null unless split evenly

    private Plan(String name, FileChannel file, long size, long chunk, int count, RangeSplit even) {
      this.name = name;
      this.file = file;
      this.size = size;
      this.chunk = chunk;
      this.count = count;
      this.even = even;
    }

    long size() {
      return size;
    }

    @Override
    public int taskCount() {
      return count;
    }

    @Override
    public boolean readsFiles() {
      return true;
    }

    private long from(int task) {
      Objects.checkIndex(task, count);
      return even != null ? even.from(task) : task * chunk;
    }

    private long to(int task) {
      Objects.checkIndex(task, count);
      if (even != null) {
        return even.to(task);
      }
      return task == count - 1 ? size - 1 : (task + 1) * chunk - 1;
    }

    @Override
    public ByteString input(int task) throws IOException {
      if (size == 0) {
        Objects.checkIndex(task, 1);
        return HashTask.getDefaultInstance().toByteString();
      }
      long offset = from(task);
      int length = Math.toIntExact(to(task) - offset + 1);
      // The HashTask is encoded by hand so the chunk is read straight into the message's bytes.
      int header =
          CodedOutputStream.computeTagSize(HashTask.DATA_FIELD_NUMBER)
              + CodedOutputStream.computeUInt32SizeNoTag(length);
      byte[] message = new byte[header + length];
      CodedOutputStream out = CodedOutputStream.newInstance(message, 0, header);
      out.writeTag(HashTask.DATA_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      out.writeUInt32NoTag(length);
      out.checkNoSpaceLeft();
      if (file.size() != size) {
        throw changed(file.size());
      }
      ByteBuffer bytes = ByteBuffer.wrap(message, header, length);
      while (bytes.hasRemaining()) {
        if (file.read(bytes, offset + bytes.position() - header) < 0) {
          throw changed(file.size());
        }
      }
      return UnsafeByteOperations.unsafeWrap(message);
    }

    private IOException changed(long now) {
      return new IOException(
          "hash.path: "
              + name
              + " is "
              + now
              + " bytes, but was "
              + size
              + " when the job was planned");
    }

    @Override
    public String describe(int task) {
      if (size == 0) {
        return "bytes 0..-1 (empty file)";
      }
      return "bytes " + from(task) + ".." + to(task);
    }

    @Override
    public void close() {
      close(file, name);
    }

    static void close(FileChannel file, String name) {
      try {
        file.close();
      } catch (IOException e) {
        // Nothing was written, so nothing is lost; the descriptor is released all the same.
        LOG.log(System.Logger.Level.WARNING, "closing " + name + " failed: " + e.getMessage(), e);
      }
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
