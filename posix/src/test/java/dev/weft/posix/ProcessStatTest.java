package dev.weft.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

class ProcessStatTest {

  @Test
  void parsesACommandNameWithSpacesAndParentheses() {
    String line =
        "4242 (a (b) c) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10"
            + " 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
    assertEquals(new ProcessStat(4242, 'S', 1, 4240, 987654), ProcessStat.parse(line));
  }

  @Test
  void refusesWhatIsNotAStatLine() {
    assertThrows(IllegalArgumentException.class, () -> ProcessStat.parse("4242 (x) S 1 2"));
    assertThrows(IllegalArgumentException.class, () -> ProcessStat.parse("garbage"));
  }

  @Test
  void selfIsThisProcess() {
    ProcessStat self = ProcessStat.self();
    assertEquals(ProcessHandle.current().pid(), self.pid());
    assertEquals(Optional.of(self), ProcessStat.of(self.pid()));
    assertEquals(Signals.processGroupOf(self.pid()).orElseThrow(), self.processGroup());
    assertTrue(ProcessStat.isRunning(self.pid(), self.startTicks()));
    assertFalse(ProcessStat.isRunning(self.pid(), self.startTicks() + 1), "another start time");
    assertTrue(ProcessStat.all().contains(self));
    assertTrue(ProcessStat.ownerUid(self.pid()).isPresent());
  }

  @Test
  void aReapedProcessIsGone() throws Exception {
    Process process = new ProcessBuilder("true").start();
    assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    assertEquals(Optional.empty(), ProcessStat.of(process.pid()));
    assertEquals(Optional.empty(), ProcessStat.of(0));
    assertTrue(ProcessStat.ownerUid(process.pid()).isEmpty());
  }

  @Test
  void liveMembersOfAGroup() throws Exception {
    // setsid execs sh in the same pid, which leads a new group; sh says when its child runs.
    Process leader =
        new ProcessBuilder("setsid", "sh", "-c", "sleep 30 & echo ready; wait").start();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(leader.getInputStream(), StandardCharsets.US_ASCII))) {
      assertEquals("ready", out.readLine());
      List<ProcessStat> members = ProcessStat.liveMembersOf(leader.pid());
      assertEquals(2, members.size(), members.toString());
      assertTrue(members.stream().allMatch(m -> m.processGroup() == leader.pid()));
      assertTrue(members.stream().anyMatch(m -> m.parentPid() == leader.pid()));
    } finally {
      Signals.killProcessGroup(leader.pid(), Signals.SIGKILL);
      assertTrue(leader.waitFor(10, TimeUnit.SECONDS));
    }
    // The orphaned sleep may stay a zombie where init does not reap: zombies are not members.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!ProcessStat.liveMembersOf(leader.pid()).isEmpty()) {
      assertTrue(System.nanoTime() < deadline, "the group outlived SIGKILL");
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }
}
