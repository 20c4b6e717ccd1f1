package dev.weft.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SignalsTest {

  @Test
  void signalZeroFindsThisProcess() {
    assertEquals(Signals.Result.SENT, Signals.kill(ProcessHandle.current().pid(), 0));
  }

  @Test
  void aDeadProcessIsNoSuchProcess() throws Exception {
    Process process = new ProcessBuilder("true").start();
    assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    assertEquals(Signals.Result.NO_SUCH_PROCESS, Signals.kill(process.pid(), 0));
    assertEquals(Signals.Result.NO_SUCH_PROCESS, Signals.kill(process.pid(), Signals.SIGTERM));
    assertEquals(OptionalLong.empty(), Signals.processGroupOf(process.pid()));
  }

  @Test
  void initIsNotOursToSignalUnlessWeAreRoot() {
    assumeTrue(
        ProcessStat.ownerUid(ProcessHandle.current().pid()).orElseThrow() != 0,
        "root may signal anyone");
    assertEquals(Signals.Result.NOT_PERMITTED, Signals.kill(1, 0));
  }

  @Test
  void dangerousTargetsAreRefused() {
    assertEquals(
        "pid 0 is not a positive pid",
        assertThrows(IllegalArgumentException.class, () -> Signals.kill(0, Signals.SIGKILL))
            .getMessage());
    assertEquals(
        "pid -1 is not a positive pid",
        assertThrows(IllegalArgumentException.class, () -> Signals.kill(-1, Signals.SIGKILL))
            .getMessage());
    long ownGroup = Signals.processGroupOf(ProcessHandle.current().pid()).orElseThrow();
    assertEquals(
        "refusing to signal process group " + ownGroup + ": it is this process's own group",
        assertThrows(
                IllegalArgumentException.class,
                () -> Signals.killProcessGroup(ownGroup, Signals.SIGKILL))
            .getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> Signals.kill(ProcessHandle.current().pid(), 99));
  }

  @Test
  void killProcessGroupKillsAChildInItsOwnGroup() throws Exception {
    // setsid execs sh in the same pid, which becomes the leader of a new group; sh says when.
    Process leader =
        new ProcessBuilder("setsid", "sh", "-c", "sleep 30 & echo ready; wait").start();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(leader.getInputStream(), StandardCharsets.US_ASCII))) {
      assertEquals("ready", out.readLine());
      assertEquals(OptionalLong.of(leader.pid()), Signals.processGroupOf(leader.pid()));
      long sleeper =
          leader.children().findFirst().orElseThrow(() -> new AssertionError("no sleep")).pid();
      assertEquals(OptionalLong.of(leader.pid()), Signals.processGroupOf(sleeper));

      assertEquals(Signals.Result.SENT, Signals.killProcessGroup(leader.pid(), Signals.SIGKILL));
      assertTrue(leader.waitFor(10, TimeUnit.SECONDS));
      assertEquals(128 + Signals.SIGKILL, leader.exitValue());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false)) {
        assertTrue(System.nanoTime() < deadline, "the group's other member survived");
        Thread.onSpinWait();
      }
      assertEquals(
          Signals.Result.NO_SUCH_PROCESS, Signals.killProcessGroup(leader.pid(), Signals.SIGKILL));
    } finally {
      // If the test failed before the group kill, take the whole group down, not just sh.
      if (Signals.processGroupOf(leader.pid()).equals(OptionalLong.of(leader.pid()))) {
        Signals.killProcessGroup(leader.pid(), Signals.SIGKILL);
      }
      leader.destroyForcibly();
    }
  }

  @Test
  void stopAndContinue() throws IOException, InterruptedException {
    Process child = new ProcessBuilder("sleep", "30").start();
    try {
      assertEquals(Signals.Result.SENT, Signals.kill(child.pid(), Signals.SIGSTOP));
      assertEquals(Signals.Result.SENT, Signals.kill(child.pid(), Signals.SIGCONT));
      assertFalse(child.waitFor(0, TimeUnit.SECONDS));
      assertEquals(Signals.Result.SENT, Signals.kill(child.pid(), Signals.SIGTERM));
      assertTrue(child.waitFor(10, TimeUnit.SECONDS));
      assertEquals(128 + Signals.SIGTERM, child.exitValue());
    } finally {
      child.destroyForcibly();
    }
  }
}
