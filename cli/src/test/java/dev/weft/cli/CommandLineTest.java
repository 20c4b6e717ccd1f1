package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static dev.weft.cli.ProcessCluster.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the CLI says before (or instead of) talking to a coordinator: no processes needed. */
final class CommandLineTest {

  @Test
  void withoutACoordinatorClientsExitThreeAndSayWhatToDo() throws IOException {
    String address = "127.0.0.1:" + ProcessCluster.freePort();

    CliResult r = cli("jobs", "--coordinator", address);

    assertExit(3, r);
    assertTrue(r.err().contains(address), r::toString);
    assertTrue(r.err().contains("weft coordinator"), r::toString);
    assertEquals(1, r.err().lines().count(), () -> "one line, no stack trace; " + r);
  }

  @Test
  void submitWithoutACoordinatorExitsThree() throws IOException {
    CliResult r =
        cli(
            "submit",
            "sum",
            "--from",
            "1",
            "--to",
            "2",
            "--wait",
            "--coordinator",
            "127.0.0.1:" + ProcessCluster.freePort());

    assertExit(3, r);
  }

  @Test
  void missingOptionIsAUsageErrorOnOneLine() {
    CliResult r = cli("submit", "sum", "--from", "1");

    assertExit(2, r);
    assertEquals(
        "weft submit sum: Missing required option: '--to=B' (see 'weft submit sum --help')",
        r.err().strip());
  }

  @Test
  void tagNeedsWaitAnExecJobAndNoJson() {
    String nowhere = "127.0.0.1:1"; // refused before any connection is tried
    CliResult noWait = cli("submit", "exec", "--tag", "--coordinator", nowhere, "--", "echo", "x");
    CliResult sum =
        cli(
            "submit",
            "sum",
            "--from",
            "1",
            "--to",
            "2",
            "--wait",
            "--tag",
            "--coordinator",
            nowhere);
    CliResult json =
        cli("submit", "exec", "--wait", "--tag", "--json", "--coordinator", nowhere, "--", "echo");

    assertExit(2, noWait);
    assertEquals(
        "weft submit exec: --tag prints the tasks' output while waiting for the job: it needs"
            + " --wait",
        noWait.err().strip());
    assertExit(2, sum);
    assertEquals(
        "weft submit sum: --tag prints what exec tasks write; a sum job's tasks keep no output"
            + " (only exec jobs have --tag)",
        sum.err().strip());
    assertExit(2, json);
    assertTrue(json.err().contains("--tag and --json both write to stdout"), json::toString);
  }

  @Test
  void badDurationSaysWhatIsAllowed() {
    CliResult r = cli("submit", "sleep", "--ms", "1", "--timeout", "5 minutes");

    assertExit(2, r);
    assertTrue(r.err().contains("--timeout"), r::toString);
    assertTrue(r.err().contains("1h30m"), r::toString);
    assertEquals(1, r.err().lines().count(), r::toString);
  }

  @Test
  void leaderOptionsNeedAPostgresJournalAndALeaseInRange() {
    CliResult noJournal = cli("coordinator", "--data-dir", "/nonexistent", "--leader-lease", "5s");
    assertExit(2, noJournal);
    assertTrue(
        noJournal.err().contains("--leader-lease needs a PostgreSQL --journal"),
        noJournal::toString);

    CliResult advertise = cli("coordinator", "--data-dir", "/nonexistent", "--advertise", "a:1");
    assertExit(2, advertise);
    assertTrue(
        advertise.err().contains("--advertise needs a PostgreSQL --journal"), advertise::toString);

    CliResult tooShort =
        cli(
            "coordinator",
            "--data-dir",
            "/nonexistent",
            "--journal",
            "postgresql://127.0.0.1:1/weft?user=weft",
            "--leader-lease",
            "100ms");
    assertExit(2, tooShort);
    assertTrue(
        tooShort.err().contains("--leader-lease: the leader's lease must be from 1s to 10m"),
        tooShort::toString);
  }

  @Test
  void negativeGraceIsAUsageErrorOnOneLine() {
    CliResult cancel = cli("cancel", "j1", "--grace", "-2s", "--coordinator", "127.0.0.1:1");
    CliResult submit = cli("submit", "sleep", "--ms", "1", "--grace=-1s");

    assertExit(2, cancel);
    assertEquals(
        "weft cancel: Invalid value for option '--grace': '-2s' is negative; write a duration of"
            + " 0 or more, for example 250ms, 30s, 5m, 1h or 1h30m (see 'weft cancel --help')",
        cancel.err().strip());
    assertExit(2, submit);
    assertTrue(submit.err().contains("'-1s' is negative"), submit::toString);
  }

  @Test
  void cancelHelpNamesItsOptions() {
    CliResult r = cli("cancel", "--help");

    assertExit(0, r);
    for (String option : List.of("--grace", "--reason", "--no-wait", "--json")) {
      assertTrue(r.out().contains(option), () -> option + " missing; " + r);
    }
  }

  @Test
  void badPrefetchNamesTheAllowedValues() {
    for (String bad : List.of("lots", "-1", "65537")) {
      CliResult r = cli("worker", "--join", "127.0.0.1:1", "--prefetch=" + bad);

      assertExit(2, r);
      assertTrue(
          r.err()
              .contains("prefetch must be auto or a number of tasks 0..65536, got '" + bad + "'"),
          r::toString);
      assertEquals(1, r.err().lines().count(), () -> "one line, no stack trace; " + r);
    }
  }

  @Test
  void badSizeSaysWhatIsAllowed() {
    CliResult r = cli("submit", "hash", "--file", "x", "--chunk", "lots");

    assertExit(2, r);
    assertTrue(r.err().contains("--chunk"), r::toString);
    assertTrue(r.err().contains("64k"), r::toString);
  }

  @Test
  void aListOfAddressesIsCheckedWholeAndTakesNoSocket() {
    CliResult socket =
        cli("jobs", "--coordinator", "127.0.0.1:7070,unix:/run/weft/coordinator.sock");
    assertExit(2, socket);
    assertTrue(socket.err().contains("cannot be in a list"), socket::toString);
    assertEquals(1, socket.err().lines().count(), socket::toString);

    CliResult empty = cli("status", "j1", "--coordinator", "127.0.0.1:7070,");
    assertExit(2, empty);
    assertTrue(empty.err().contains("empty address"), empty::toString);

    CliResult twice = cli("jobs", "--coordinator", "a:7070,a:7070");
    assertExit(2, twice);
    assertTrue(twice.err().contains("names a:7070 twice"), twice::toString);

    CliResult bad = cli("worker", "--join", "127.0.0.1:7070,node-b", "--insecure");
    assertExit(2, bad);
    assertTrue(bad.err().contains("'node-b' is not HOST:PORT"), bad::toString);

    CliResult workerSocket = cli("worker", "--join", "unix:/tmp/x.sock", "--insecure");
    assertExit(2, workerSocket);
  }

  @Test
  void addressListsParseInOrder() {
    Addresses list = Addresses.parse(" 10.0.0.1:7070 ,[::1]:7071,node-b:7070", true);
    assertEquals(
        List.of(
            new Address("10.0.0.1", 7070), new Address("::1", 7071), new Address("node-b", 7070)),
        list.all());
    assertEquals("10.0.0.1:7070,[::1]:7071,node-b:7070", list.toString());
    assertTrue(list.isList());
    Addresses socket = Addresses.parse("unix:/run/weft/coordinator.sock", true);
    assertTrue(socket.first().isUnix());
    assertTrue(!socket.isList());
  }

  @Test
  void badAddressSaysWhatIsAllowed() {
    CliResult r = cli("workers", "--coordinator", "localhost");

    assertExit(2, r);
    assertTrue(r.err().contains("HOST:PORT"), r::toString);
  }

  @Test
  void missingInputFileIsAUsageError() {
    CliResult r =
        cli(
            "submit",
            "exec",
            "--input",
            "/no/such/inputs.txt",
            "--coordinator",
            "127.0.0.1:1",
            "--",
            "echo",
            "{}");

    assertExit(2, r);
    assertTrue(r.err().contains("/no/such/inputs.txt: no such file"), r::toString);
  }

  @Test
  void tasksAndTaskSizeTogetherAreAUsageError() {
    CliResult r =
        cli("submit", "sum", "--from", "1", "--to", "9", "--tasks", "3", "--task-size", "3");

    assertExit(2, r);
    assertTrue(r.err().contains("--tasks or --task-size"), r::toString);
  }

  @Test
  void misspelledCommandGetsASuggestion() {
    CliResult r = cli("sumbit");

    assertExit(2, r);
    assertTrue(r.err().contains("submit"), r::toString);
    assertEquals(1, r.err().lines().count(), r::toString);
  }

  @Test
  void submitWithoutAKindListsTheKinds() {
    CliResult r = cli("submit");

    assertExit(2, r);
    assertTrue(r.err().contains("sum, primes, pi, sleep, exec, hash, noop, plugin"), r::toString);
  }

  @Test
  void versionAndHelp() {
    CliResult version = cli("--version");
    CliResult help = cli("help", "submit");
    CliResult kindHelp = cli("submit", "exec", "--help");

    assertExit(0, version);
    assertTrue(version.out().startsWith("weft "), version::toString);
    assertExit(0, help);
    assertTrue(help.out().contains("Examples:"), help::toString);
    assertExit(0, kindHelp);
    assertTrue(kindHelp.out().contains("--retry-on-error"), kindHelp::toString);
    assertTrue(kindHelp.out().contains("--coordinator"), kindHelp::toString);
  }

  @Test
  void noArgumentsPrintsUsageAndExitsTwo() {
    CliResult r = cli();

    assertExit(2, r);
    assertTrue(r.err().contains("Usage: weft"), r::toString);
  }
}
