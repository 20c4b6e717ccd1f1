package dev.weft.local;

import dev.weft.posix.ProcessStat;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Who and where this process is, as far as sharing memory goes: two processes with the same machine
 * id, boot id, /dev/shm device and network namespace can probably map the same segment (probably:
 * the coordinator still proves it with a nonce before trusting it).
 *
 * @param hostname the name people know the host by
 * @param machineId /etc/machine-id, or empty
 * @param bootId the kernel's boot id, or empty
 * @param shmDevice the device number of /dev/shm, or -1 when there is none
 * @param netNamespace the inode of this process's network namespace, or -1
 * @param uid the user this process runs as, or -1 when unknown
 */
public record HostIdentity(
    String hostname, String machineId, String bootId, long shmDevice, long netNamespace, int uid) {

  /** Reads the identity of the running process. Never throws: what cannot be read is left blank. */
  public static HostIdentity current() {
    return new HostIdentity(
        localHostname(),
        firstLine(Path.of("/etc/machine-id")),
        firstLine(Path.of("/proc/sys/kernel/random/boot_id")),
        longAttribute(Path.of("/dev/shm"), "unix:dev"),
        longAttribute(Path.of("/proc/self/ns/net"), "unix:ino"),
        currentUid());
  }

  /** True when a segment this process creates in /dev/shm could be mapped by {@code other}. */
  public boolean mayShareMemoryWith(HostIdentity other) {
    // Container images often have no machine id; the boot id still names this running kernel.
    return (!machineId.isEmpty() || !bootId.isEmpty())
        && machineId.equals(other.machineId)
        && bootId.equals(other.bootId)
        && shmDevice != -1
        && shmDevice == other.shmDevice
        // A worker in another network namespace stands for another host (a container, a netns
        // cluster): it gets the network transport, as a worker on another machine would.
        && netNamespace == other.netNamespace
        && uid == other.uid;
  }

  /**
   * The inode of this process's pid namespace, or -1: pids name the same process only within it.
   */
  public static long pidNamespace() {
    return ProcessStat.ownPidNamespace();
  }

  /** The user this process runs as, or -1 when unknown. */
  static int currentUid() {
    return (int) longAttribute(Path.of("/proc/self"), "unix:uid");
  }

  /** This host's name; "localhost" when the system will not say. */
  public static String localHostname() {
    String env = System.getenv("HOSTNAME");
    if (env != null && !env.isBlank()) {
      return env.trim();
    }
    String etc = firstLine(Path.of("/etc/hostname"));
    if (!etc.isEmpty()) {
      return etc;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "localhost";
    }
  }

  private static String firstLine(Path path) {
    try {
      String text = Files.readString(path).strip();
      int newline = text.indexOf('\n');
      return newline < 0 ? text : text.substring(0, newline);
    } catch (IOException | SecurityException e) {
      return "";
    }
  }

  private static long longAttribute(Path path, String attribute) {
    try {
      Object value = Files.getAttribute(path, attribute);
      return ((Number) value).longValue();
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return -1;
    }
  }
}
