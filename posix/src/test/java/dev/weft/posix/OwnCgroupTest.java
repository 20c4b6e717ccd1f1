package dev.weft.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OwnCgroupTest {

  @Test
  void theCgroup2MountIsFoundInMountinfo() {
    List<String> mountinfo =
        List.of(
            "24 31 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw",
            "33 25 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
            "35 25 0:30 /a /elsewhere rw,relatime - cgroup2 cgroup2 rw",
            "36 25 0:30 / /sys/fs/cgroup/my\\040unified rw,relatime shared:9 - cgroup2 cgroup2 rw");
    assertEquals(
        Optional.of(Path.of("/sys/fs/cgroup/my unified")), OwnCgroup.cgroup2Mount(mountinfo));
    assertEquals(Optional.empty(), OwnCgroup.cgroup2Mount(mountinfo.subList(0, 3)));
  }

  @Test
  void aV1CgroupIsTheControllersMountJoinedWithThisProcesssPathInIt() {
    List<String> mountinfo =
        List.of(
            "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
            "32 31 0:29 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset",
            "33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory",
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw");
    List<String> procCgroup =
        List.of(
            "4:memory:/system.slice/weft.service",
            "3:cpuset:/elsewhere",
            "2:cpu,cpuacct:/",
            "0::/system.slice/weft.service");

    assertEquals(
        Optional.of(Path.of("/sys/fs/cgroup/memory/system.slice/weft.service")),
        OwnCgroup.v1Directory("memory", mountinfo, procCgroup));
    // cpu is mounted together with cpuacct, and cpuset is another controller.
    assertEquals(
        Optional.of(Path.of("/sys/fs/cgroup/cpu,cpuacct")),
        OwnCgroup.v1Directory("cpu", mountinfo, procCgroup));
    assertEquals(Optional.empty(), OwnCgroup.v1Directory("pids", mountinfo, procCgroup));
    // Bound to no v1 hierarchy: the cgroup2 mount is not taken for one.
    assertEquals(
        Optional.empty(), OwnCgroup.v1Directory("memory", mountinfo.subList(0, 3), procCgroup));
  }

  @Test
  void aV1MountOfASubtreeHoldsOnlyTheCgroupsBelowItsRoot() {
    // A container's view without a cgroup namespace: its cgroup is mounted as the hierarchy.
    List<String> mountinfo =
        List.of(
            "700 690 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory");

    assertEquals(
        Optional.of(Path.of("/sys/fs/cgroup/memory")),
        OwnCgroup.v1Directory("memory", mountinfo, List.of("9:memory:/docker/abc")));
    assertEquals(
        Optional.of(Path.of("/sys/fs/cgroup/memory/task")),
        OwnCgroup.v1Directory("memory", mountinfo, List.of("9:memory:/docker/abc/task")));
    assertEquals(
        Optional.empty(),
        OwnCgroup.v1Directory("memory", mountinfo, List.of("9:memory:/docker/abcd")));
  }

  /** A hierarchy as the kernel shows it: every cgroup has cgroup.controllers, the root no limit. */
  private static Path cgroup(Path dir, String memoryMax) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("cgroup.controllers"), "cpu memory pids\n");
    if (memoryMax != null) {
      Files.writeString(dir.resolve("memory.max"), memoryMax + "\n");
    }
    return dir;
  }

  @Test
  void theMemoryLimitIsTheLowestOnTheWayUpToTheRoot(@TempDir Path dir) throws IOException {
    Path mount = cgroup(dir.resolve("cgroup"), null);
    cgroup(mount.resolve("system.slice"), "max");
    cgroup(mount.resolve("system.slice/weft.service"), "4294967296");
    Path leaf = cgroup(mount.resolve("system.slice/weft.service/worker"), "max");
    // Above the mount point there is no cgroup.controllers: a memory.max there is not read.
    Files.writeString(dir.resolve("memory.max"), "1\n");

    assertEquals(OptionalLong.of(4_294_967_296L), OwnCgroup.memoryMax(leaf));

    cgroup(leaf, "536870912");
    assertEquals(OptionalLong.of(536_870_912L), OwnCgroup.memoryMax(leaf));
  }

  @Test
  void noLimitWhenEveryCgroupSaysMaxOrHasNoMemoryController(@TempDir Path mount)
      throws IOException {
    cgroup(mount, null);
    Path unlimited = cgroup(mount.resolve("a"), "max");
    Path noController = cgroup(mount.resolve("b"), null);

    assertEquals(OptionalLong.empty(), OwnCgroup.memoryMax(unlimited));
    assertEquals(OptionalLong.empty(), OwnCgroup.memoryMax(noController));
    assertEquals(OptionalLong.empty(), OwnCgroup.memoryMax(mount.resolve("not-a-cgroup")));
  }
}
