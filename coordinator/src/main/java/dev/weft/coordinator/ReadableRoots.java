package dev.weft.coordinator;

import dev.weft.kinds.InvalidJobException;
import dev.weft.v1.JobSpec;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The directories under which clients may have the coordinator read files (for {@code hash} jobs).
 * A client must not be able to make the coordinator read, say, its own keys: there is no root
 * unless the operator names one, the data dir (journal, TLS keys, join token) is never readable,
 * and a path is resolved once, with symbolic links followed, and checked as resolved. The kind then
 * opens the resolved path without following links, so what was checked is what is read.
 */
final class ReadableRoots {
  static final String NO_ROOTS =
      "hash jobs need `--hash-root DIR` on the coordinator: it reads no file until it is told"
          + " under which directories it may";

  private final List<Path> roots;
  private final Path dataDir; // null when jobs are kept in memory only

  ReadableRoots(List<Path> roots, Path dataDir) {
    this.roots = roots.stream().map(ReadableRoots::real).toList();
    this.dataDir = dataDir == null ? null : real(dataDir);
  }

  static ReadableRoots of(CoordinatorConfig config) {
    return new ReadableRoots(config.hashRoots(), config.dataDir());
  }

  /**
   * The spec as its kind is to plan it: a {@code hash} job's path resolved to the file's own path
   * once checked; any other spec as it is.
   *
   * @throws InvalidJobException naming {@code hash.path} when the file is outside every root, or in
   *     the data dir
   * @throws io.grpc.StatusRuntimeException FAILED_PRECONDITION when no root is configured
   */
  JobSpec confine(JobSpec spec) throws InvalidJobException {
    if (!spec.hasHash()) {
      return spec;
    }
    if (roots.isEmpty()) {
      throw Status.FAILED_PRECONDITION.withDescription(NO_ROOTS).asRuntimeException();
    }
    String name = spec.getHash().getPath();
    if (name.isEmpty()) {
      return spec; // the kind names what is missing
    }
    Path path;
    try {
      path = Path.of(name).toAbsolutePath().toRealPath();
    } catch (InvalidPathException e) {
      throw new InvalidJobException("hash.path", "not a valid path: " + e.getMessage());
    } catch (NoSuchFileException e) {
      throw new InvalidJobException("hash.path", "no such file: " + name);
    } catch (IOException e) {
      throw new InvalidJobException("hash.path", "cannot resolve " + name + ": " + e.getMessage());
    }
    if (dataDir != null && path.startsWith(dataDir)) {
      throw new InvalidJobException(
          "hash.path",
          name
              + (path.toString().equals(name) ? "" : " (" + path + ")")
              + " is in the coordinator's data dir "
              + dataDir
              + ", which holds its journal and keys and is never readable; hash files under "
              + allowed());
    }
    if (roots.stream().noneMatch(path::startsWith)) {
      throw new InvalidJobException(
          "hash.path",
          name
              + (path.toString().equals(name) ? "" : " (" + path + ")")
              + " is outside the directories this coordinator may read ("
              + allowed()
              + "); start it with --hash-root DIR to allow another");
    }
    return spec.toBuilder().setHash(spec.getHash().toBuilder().setPath(path.toString())).build();
  }

  private String allowed() {
    return roots.stream().map(Path::toString).collect(Collectors.joining(", "));
  }

  private static Path real(Path root) {
    try {
      return root.toAbsolutePath().toRealPath();
    } catch (IOException e) {
      // A root that does not exist (yet) allows nothing but its own name.
      return root.toAbsolutePath().normalize();
    }
  }
}
