package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Option defaults from a config file, in this JVM: which file is read, which keys it may hold, and
 * what beats it. The environment and system properties are given to each command line, so the
 * developer's own $WEFT_CONFIG or ~/.config/weft never matter here. ($WEFT_COORDINATOR beating the
 * file needs a process of its own: DistributionIT in the dist module.)
 */
final class ConfigDefaultsTest {
  private static final Map<String, String> NO_ENV = Map.of();

  @TempDir Path dir;

  @Test
  void theFileSetsOptionsOfTheCommandItNames() throws IOException {
    Path config =
        write(
            "weft.properties",
            "weft.coordinator.listen = 127.0.0.1:9999  ",
            "weft.coordinator.lease = 30s",
            "weft.worker.slots = 3");

    CommandLine cmd = parse(NO_ENV, new Properties(), "coordinator", "--config", config.toString());
    assertEquals("127.0.0.1:9999", value(cmd, "--listen", "coordinator").toString());
    assertEquals(Duration.ofSeconds(30), value(cmd, "--lease", "coordinator"));

    cmd = parse(NO_ENV, new Properties(), "worker", "--config", config.toString());
    assertEquals(3, value(cmd, "--slots", "worker"));
  }

  @Test
  void theCommandLineBeatsTheFileAndConfigMayComeBeforeTheCommand() throws IOException {
    Path config =
        write(
            "a.properties",
            "weft.coordinator.listen = 127.0.0.1:9999",
            "weft.coordinator.lease = 30s");

    CommandLine cmd =
        parse(
            NO_ENV,
            new Properties(),
            "--config",
            config.toString(),
            "coordinator",
            "--listen",
            "127.0.0.1:0");

    assertEquals("127.0.0.1:0", value(cmd, "--listen", "coordinator").toString());
    assertEquals(Duration.ofSeconds(30), value(cmd, "--lease", "coordinator"));
  }

  @Test
  void aKeyWithoutCommandSetsEveryCommandWithThatOptionAndACommandKeyBeatsIt() throws IOException {
    Path config =
        write("a.properties", "coordinator = 127.0.0.1:1", "weft.jobs.coordinator = 127.0.0.1:2");
    String[] withConfig = {"--config", config.toString()};

    CommandLine cmd = parse(NO_ENV, new Properties(), concat("workers", withConfig));
    assertEquals("127.0.0.1:1", value(cmd, "--coordinator", "workers").toString());

    cmd =
        parse(
            NO_ENV,
            new Properties(),
            concat("submit", "sum", "--from", "1", "--to", "2", withConfig[0], withConfig[1]));
    assertEquals("127.0.0.1:1", value(cmd, "--coordinator", "submit", "sum").toString());

    cmd = parse(NO_ENV, new Properties(), concat("jobs", withConfig));
    assertEquals("127.0.0.1:2", value(cmd, "--coordinator", "jobs").toString());
  }

  @Test
  void theFileMayListSeveralCoordinatorsForClientsAndWorkers() throws IOException {
    Path config =
        write(
            "a.properties",
            "coordinator = node-a:7070,node-b:7070",
            "weft.worker.join = node-a:7070, node-b:7070");
    String[] withConfig = {"--config", config.toString()};

    CommandLine cmd = parse(NO_ENV, new Properties(), concat("jobs", withConfig));
    Addresses clients = (Addresses) value(cmd, "--coordinator", "jobs");
    assertEquals(List.of(new Address("node-a", 7070), new Address("node-b", 7070)), clients.all());

    cmd = parse(NO_ENV, new Properties(), concat("worker", withConfig));
    assertEquals("node-a:7070,node-b:7070", value(cmd, "--join", "worker").toString());

    Path bad = write("b.properties", "coordinator = node-a:7070,unix:/run/weft/c.sock");
    CliResult r = run(NO_ENV, new Properties(), "jobs", "--config", bad.toString());
    assertExit(2, r);
    assertTrue(r.err().contains("cannot be in a list"), r::toString);
  }

  @Test
  void aFlagFromTheFileIsSetAndGivingItAgainKeepsItSet() throws IOException {
    Path config = write("a.properties", "weft.submit.sum.json = true");
    String coordinator = "127.0.0.1:" + ProcessCluster.freePort();

    for (boolean alsoOnCommandLine : new boolean[] {false, true}) {
      CommandLine cmd = Main.newCommandLine(new ConfigDefaults(NO_ENV, new Properties()));
      String[] args = {
        "submit",
        "sum",
        "--from",
        "1",
        "--to",
        "2",
        "--coordinator",
        coordinator,
        "--config",
        config.toString()
      };
      CliResult r = execute(cmd, alsoOnCommandLine ? append(args, "--json") : args);

      assertExit(3, r); // no coordinator: the flags were set before the command ran
      assertEquals(true, value(cmd, "--json", "submit", "sum"), r::toString);
    }
  }

  @Test
  void aNamedFileThatDoesNotExistIsAUsageError() {
    Path missing = dir.resolve("missing.properties");

    CliResult r = run(NO_ENV, new Properties(), "--config", missing.toString(), "--version");
    assertExit(2, r);
    assertTrue(r.err().contains(missing + " (named by --config) does not exist"), r::toString);

    r = run(Map.of("WEFT_CONFIG", missing.toString()), new Properties(), "jobs");
    assertExit(2, r);
    assertTrue(r.err().contains(missing + " (named by $WEFT_CONFIG) does not exist"), r::toString);
  }

  @Test
  void aFileThatIsNotUtf8TextOrIsADirectoryIsAUsageError() throws IOException {
    Path latin1 =
        Files.write(dir.resolve("latin1.properties"), new byte[] {'#', ' ', (byte) 0xe9, '\n'});

    CliResult r = run(NO_ENV, new Properties(), "--config", latin1.toString(), "--version");
    assertExit(2, r);
    assertTrue(r.err().contains(latin1 + " is not UTF-8 text"), r::toString);

    r = run(NO_ENV, new Properties(), "--config", dir.toString(), "--version");
    assertExit(2, r);
    assertTrue(r.err().contains(dir + " is a directory"), r::toString);
  }

  @Test
  void anUnknownKeyIsAUsageErrorThatSuggestsTheRightOne() throws IOException {
    Path config =
        write(
            "a.properties",
            "weft.coordinator.lisen = 127.0.0.1:1",
            "worker.slots = 2",
            "weft.worker.stdio = true",
            "weft.coordinator.config = other.properties");

    CliResult r = run(NO_ENV, new Properties(), "jobs", "--config", config.toString());

    assertExit(2, r);
    assertEquals(1, r.err().lines().count(), r::toString);
    assertTrue(
        r.err()
            .contains(
                "unknown key 'weft.coordinator.lisen' (did you mean 'weft.coordinator.listen'?)"),
        r::toString);
    assertTrue(
        r.err().contains("unknown key 'worker.slots' (did you mean 'weft.worker.slots'?)"),
        r::toString);
    // Hidden options are weft's own business, and --config cannot name another file.
    assertTrue(r.err().contains("unknown key 'weft.worker.stdio'"), r::toString);
    assertTrue(r.err().contains("unknown key 'weft.coordinator.config'"), r::toString);
  }

  @Test
  void aBadValueFromTheFileSaysWhereItCameFrom() throws IOException {
    Path config = write("a.properties", "weft.jobs.limit = many");

    CliResult r = run(NO_ENV, new Properties(), "jobs", "--config", config.toString());

    assertExit(2, r);
    assertTrue(r.err().contains("'many'"), r::toString);
    assertTrue(r.err().contains("(from weft.jobs.limit in " + config + ")"), r::toString);
  }

  @Test
  void aFlagTakesOnlyTrueOrFalse() throws IOException {
    Path config = write("a.properties", "weft.worker.exit-when-stuck = yes");

    CliResult r = run(NO_ENV, new Properties(), "--config", config.toString(), "--version");

    assertExit(2, r);
    assertTrue(
        r.err().contains("weft.worker.exit-when-stuck is a flag: write true or false, not 'yes'"),
        r::toString);
  }

  @Test
  void anEmptyValueLeavesTheBuiltInDefault() throws IOException {
    Path config = write("a.properties", "weft.coordinator.listen =");

    CommandLine cmd = parse(NO_ENV, new Properties(), "coordinator", "--config", config.toString());

    assertEquals(Address.DEFAULT, value(cmd, "--listen", "coordinator").toString());
  }

  @Test
  void withoutConfigTheEnvironmentThenTheDistributionThenTheUserFileIsRead() throws IOException {
    Path xdg = Files.createDirectories(dir.resolve("xdg"));
    Files.createDirectories(xdg.resolve("weft"));
    Files.writeString(xdg.resolve("weft/weft.properties"), "weft.jobs.limit = 1\n");
    Path dist = write("dist.properties", "weft.jobs.limit = 2");
    Path named = write("named.properties", "weft.jobs.limit = 3");
    Properties fromDist = new Properties();
    fromDist.setProperty(ConfigDefaults.DIST_PROPERTY, dist.toString());
    Properties fromMissingDist = new Properties();
    fromMissingDist.setProperty(ConfigDefaults.DIST_PROPERTY, dir.resolve("gone").toString());
    Map<String, String> env = Map.of("XDG_CONFIG_HOME", xdg.toString());

    assertEquals(1, value(parse(env, new Properties(), "jobs"), "--limit", "jobs"));
    assertEquals(1, value(parse(env, fromMissingDist, "jobs"), "--limit", "jobs"));
    assertEquals(2, value(parse(env, fromDist, "jobs"), "--limit", "jobs"));
    Map<String, String> withNamed =
        Map.of("XDG_CONFIG_HOME", xdg.toString(), "WEFT_CONFIG", named.toString());
    assertEquals(3, value(parse(withNamed, fromDist, "jobs"), "--limit", "jobs"));
    assertEquals(100, value(parse(NO_ENV, new Properties(), "jobs"), "--limit", "jobs"));
  }

  @Test
  void processesWeftStartsReadOnlyAnExplicitConfig() throws IOException {
    Path named = write("named.properties", "weft.jobs.limit = 3");
    Path dist = write("dist.properties", "weft.jobs.limit = 2");
    Properties child = new Properties();
    child.setProperty(ConfigDefaults.SEARCH_PROPERTY, "false");
    child.setProperty(ConfigDefaults.DIST_PROPERTY, dist.toString());
    Map<String, String> env = Map.of("WEFT_CONFIG", named.toString());

    assertEquals(100, value(parse(env, child, "jobs"), "--limit", "jobs"));
    assertEquals(
        3, value(parse(env, child, "jobs", "--config", named.toString()), "--limit", "jobs"));
    assertTrue(
        WeftJvm.command(java.util.List.of("worker"))
            .contains("-D" + ConfigDefaults.SEARCH_PROPERTY + "=false"));
  }

  private Path write(String name, String... lines) throws IOException {
    return Files.writeString(dir.resolve(name), String.join("\n", lines) + "\n");
  }

  private static CommandLine parse(Map<String, String> env, Properties system, String... args) {
    CommandLine cmd = Main.newCommandLine(new ConfigDefaults(env, system));
    cmd.parseArgs(args);
    return cmd;
  }

  private static CliResult run(Map<String, String> env, Properties system, String... args) {
    return execute(Main.newCommandLine(new ConfigDefaults(env, system)), args);
  }

  private static CliResult execute(CommandLine cmd, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int code = cmd.execute(args);
    return new CliResult(code, out.toString(), err.toString());
  }

  /** The value an option of the command at {@code path} got from the last parse. */
  private static Object value(CommandLine root, String option, String... path) {
    CommandLine cmd = root;
    for (String name : path) {
      cmd = cmd.getSubcommands().get(name);
    }
    return cmd.getCommandSpec().findOption(option).getValue();
  }

  private static String[] append(String[] args, String last) {
    String[] all = java.util.Arrays.copyOf(args, args.length + 1);
    all[args.length] = last;
    return all;
  }

  private static String[] concat(String first, String... rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }
}
