package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static dev.weft.cli.ProcessCluster.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.worker.WorkerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code weft worker --resources} and {@code --label}: what reaches the worker, what is refused.
 */
final class WorkerOptionsTest {
  private static final String[] JOIN = {"worker", "--join", "127.0.0.1:1", "--insecure"};

  @TempDir Path dir;

  /** The worker's settings as the command line (and config file) make them, without a worker. */
  private static WorkerConfig config(ConfigDefaults defaults, String... args) {
    CommandLine cmd = Main.newCommandLine(defaults);
    cmd.parseArgs(args);
    WorkerCommand worker = cmd.getSubcommands().get("worker").getCommand();
    return worker.config();
  }

  private static WorkerConfig config(String... args) {
    return config(new ConfigDefaults(Map.of(), new Properties()), args);
  }

  private static String[] join(String... more) {
    String[] all = java.util.Arrays.copyOf(JOIN, JOIN.length + more.length);
    System.arraycopy(more, 0, all, JOIN.length, more.length);
    return all;
  }

  @Test
  void taskLogOptionsReachTheWorkerAndDefaultUnderTheStateDirectory() {
    WorkerConfig given =
        config(
            join(
                "--id",
                "w/1",
                "--log-dir",
                dir.resolve("logs").toString(),
                "--task-log-bytes",
                "64k",
                "--log-retention",
                "2h"));
    assertEquals(dir.resolve("logs"), given.logDir());
    assertEquals(64 * 1024, given.taskLogBytes());
    assertEquals(2 * 3_600_000L, given.logRetentionMs());

    WorkerConfig defaults = config(join("--id", "w/1"));
    assertEquals(1 << 20, defaults.taskLogBytes());
    assertEquals(24 * 3_600_000L, defaults.logRetentionMs());
    // Under weft/task-logs of the XDG state directory, by the worker's id made safe.
    assertTrue(
        defaults.logDir().endsWith(Path.of("weft", "task-logs", "w%2F1")),
        defaults.logDir()::toString);
    assertEquals(0, config(join("--task-log-bytes", "0")).taskLogBytes(), "0 keeps no logs");
  }

  @Test
  void resourcesAndLabelsReachTheWorker() {
    WorkerConfig config =
        config(
            join(
                "--slots",
                "2",
                "--resources",
                "cpu=1.5, mem=512m,gpu=2,licence=3,scratch/ssd=0",
                "--label",
                "zone=eu-west",
                "--label",
                "rack=r01,example.com/os=linux"));

    assertEquals(1_500, config.cpuMillis());
    assertEquals(512L << 20, config.memBytes());
    assertEquals(2, config.gpus());
    assertEquals(Map.of("licence", 3L, "scratch/ssd", 0L), config.resources());
    assertEquals(
        Map.of("zone", "eu-west", "rack", "r01", "example.com/os", "linux"), config.labels());
  }

  @Test
  void whatIsLeftOutKeepsItsDefault() {
    WorkerConfig config = config(join("--slots", "3", "--resources", "gpu=1"));
    assertEquals(3_000, config.cpuMillis(), "one CPU per slot");
    assertTrue(config.memBytes() > 0, "the worker's memory");
    assertEquals(1, config.gpus());
    assertEquals(Map.of(), config.labels());
  }

  @Test
  void cpusTakeThousandthsAndSizesTheirUnits() {
    assertEquals(500, WorkerResources.parse("cpu=500m").cpuMillis().orElseThrow());
    assertEquals(2_000, WorkerResources.parse("CPU=2").cpuMillis().orElseThrow());
    assertEquals(250, WorkerResources.parse("cpu=0.25").cpuMillis().orElseThrow());
    assertEquals(1L << 30, WorkerResources.parse("mem=1GiB").memBytes().orElseThrow());
    assertEquals(4L << 30, WorkerResources.parse("mem = 4g").memBytes().orElseThrow());
  }

  @Test
  void badResourcesSayWhatIsWrongAndHowToWriteThem() {
    String how = "; write cpu=N,mem=SIZE,gpu=N,NAME=N, for example cpu=4,mem=8g";
    assertBad(
        "'cpu=-1': cpu=-1 is not a number of CPUs; write one such as 2, 1.5 or 500m"
            + " (thousandths)",
        "cpu=-1");
    assertBad("'cpu=0.0001': cpu=0.0001 is finer than a thousandth of a CPU", "cpu=0.0001");
    assertBad(
        "'mem=lots': mem=lots: 'lots' is not a size; write bytes with an optional unit k, m or g"
            + " (powers of 1024), for example 4096, 64k, 1m or 1MiB",
        "mem=lots");
    assertBad("'gpu=1.5': gpu=1.5 is not a whole number from 0 to 2147483647", "gpu=1.5");
    assertBad(
        "'licence=-2': licence=-2 is not a whole number from 0 to 9223372036854775807",
        "licence=-2");
    assertBad("'cpu=1,CPU=2': CPU is given twice", "cpu=1,CPU=2");
    assertBad("'cpu=1,': an entry is empty" + how, "cpu=1,");
    assertBad("'cpu': 'cpu' is not NAME=AMOUNT" + how, "cpu");
    assertBad("'a+b=1': a resource name is letters, digits and . _ / - (got 'a+b')", "a+b=1");
  }

  private static void assertBad(String message, String resources) {
    TypeConversionException e =
        assertThrows(TypeConversionException.class, () -> WorkerResources.parse(resources));
    assertEquals(message, e.getMessage());
  }

  @Test
  void badInputIsAUsageErrorOnOneLineWithoutAWorker() {
    CliResult resources = cli(join("--resources", "cpu=-1"));
    assertExit(2, resources);
    assertTrue(
        resources
            .err()
            .startsWith(
                "weft worker: Invalid value for option '--resources': 'cpu=-1': cpu=-1 is not a"
                    + " number of CPUs"),
        resources::toString);
    assertEquals(1, resources.err().lines().count(), resources::toString);

    CliResult key = cli(join("--label", "my zone=eu"));
    assertExit(2, key);
    assertTrue(
        key.err()
            .contains(
                "a label is KEY=VALUE, both of letters, digits and . _ / - (got 'my zone=eu')"),
        key::toString);

    CliResult noValue = cli(join("--label", "zone"));
    assertExit(2, noValue);
    assertTrue(noValue.err().contains("'zone' is not KEY=VALUE"), noValue::toString);

    CliResult twice = cli(join("--label", "zone=eu", "--label", "zone=us"));
    assertExit(2, twice);
    assertEquals("weft worker: label zone is given twice (eu and us)", twice.err().strip());
  }

  @Test
  void theConfigFileSetsThemToo() throws IOException {
    Path file = dir.resolve("weft.properties");
    Files.writeString(
        file,
        String.join(
            "\n",
            "weft.worker.resources = cpu=4,mem=8g,licence=2",
            "weft.worker.label = zone=eu,rack=r01",
            ""));
    ConfigDefaults defaults = new ConfigDefaults(Map.of(), new Properties());

    WorkerConfig config = config(defaults, join("--config", file.toString()));
    assertEquals(4_000, config.cpuMillis());
    assertEquals(8L << 30, config.memBytes());
    assertEquals(Map.of("licence", 2L), config.resources());
    assertEquals(Map.of("zone", "eu", "rack", "r01"), config.labels());

    // The command line beats the file.
    config =
        config(
            new ConfigDefaults(Map.of(), new Properties()),
            join("--config", file.toString(), "--resources", "cpu=1", "--label", "zone=us"));
    assertEquals(1_000, config.cpuMillis());
    assertEquals(Map.of(), config.resources());
    assertEquals(Map.of("zone", "us"), config.labels());
  }

  @Test
  void aBadValueInTheConfigFileNamesTheKeyAndTheFile() throws IOException {
    Path file = dir.resolve("bad.properties");
    Files.writeString(file, "weft.worker.resources = mem=-1\n");

    CliResult r = cli(join("--config", file.toString()));

    assertExit(2, r);
    assertTrue(r.err().contains("(from weft.worker.resources in " + file + ")"), r::toString);
  }

  @Test
  void httpListenIsOffByDefaultAndPlainTextBeyondLoopbackOnlyWithInsecure() {
    assertEquals(-1, config(join()).httpPort(), "off by default");
    assertEquals(-1, config(join("--http-listen", "off")).httpPort());
    WorkerConfig local = config(join("--http-listen", "127.0.0.1:0"));
    assertEquals(0, local.httpPort());
    assertTrue(local.httpAddress().isLoopbackAddress());
    // JOIN runs --insecure: plain text beyond loopback is then what the user chose.
    assertEquals(9100, config(join("--http-listen", "0.0.0.0:9100")).httpPort());

    // With TLS to the coordinator (its token found on loopback), a plain-text port stays local.
    CliException beyond =
        assertThrows(
            CliException.class,
            () -> config("worker", "--join", "127.0.0.1:1", "--http-listen", "0.0.0.0:9100"));
    assertEquals(ExitCodes.USAGE, beyond.exitCode());
    assertTrue(
        beyond.getMessage().startsWith("--http-listen 0.0.0.0:9100 is beyond loopback: "),
        beyond.getMessage());
    assertTrue(beyond.getMessage().contains("unless it runs --insecure"), beyond.getMessage());

    CliException malformed =
        assertThrows(CliException.class, () -> config(join("--http-listen", "9100")));
    assertEquals(ExitCodes.USAGE, malformed.exitCode());
    assertEquals(
        "--http-listen: '9100' is not HOST:PORT (for example 127.0.0.1:7070), or off",
        malformed.getMessage());
  }

  @Test
  void joinTakesSeveralAddressesEachNeedingSomethingToTalkWith() {
    WorkerConfig both =
        config("worker", "--join", "127.0.0.1:1,[::1]:2", "--insecure", "--id", "w");
    assertEquals(
        List.of(
            new dev.weft.worker.CoordinatorAddress("127.0.0.1", 1),
            new dev.weft.worker.CoordinatorAddress("::1", 2)),
        both.coordinators());

    // Beyond loopback no token is looked up: without one given, the worker says so and exits 2.
    CliResult r = cli("worker", "--join", "127.0.0.1:1,node-b.example:7070");
    assertExit(2, r);
    assertTrue(r.err().contains("node-b.example:7070"), r::toString);
  }
}
