package dev.weft.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Checks one {@code weft} command line of the docs against picocli's model of {@link Main}: every
 * subcommand on its path exists and every option is one of its command's; then, when no value is a
 * placeholder that has no sample, the arguments are parsed by a fresh command line as {@code weft}
 * parses them, so values picocli converts (numbers, durations, sizes, enums, addresses) are checked
 * too.
 *
 * <p>Placeholders are the docs' upper-case words ({@code HOST:PORT}, {@code JOB}, {@code N}): known
 * ones get a sample value ({@link #SAMPLES}); a value with another one, {@code ...} or a shell
 * variable is checked by its option's name alone. A synopsis is read too: {@code [--grace
 * DURATION]} as {@code --grace DURATION}, {@code --follow|-f} as both names, {@code auto|grpc|shm}
 * as its first value, and {@code KIND} or {@code ...} where a subcommand belongs as any subcommand
 * (the options after it must belong to one of them). Code spans ({@code inline}) are fragments: a
 * missing required option or value is not a fault there.
 */
final class DocCommandCheck {
  private static final Map<String, String> SAMPLES =
      Map.ofEntries(
          Map.entry("HOST", "node-a"),
          Map.entry("PORT", "7070"),
          Map.entry("JOB", "jdocsexample"),
          Map.entry("JOB_ID", "jdocsexample"),
          Map.entry("ID", "w1"),
          Map.entry("WORKER", "w1"),
          Map.entry("TOKEN", "weft1-" + "ab".repeat(32) + "-" + "cd".repeat(16)),
          Map.entry("N", "2"),
          Map.entry("M", "2"),
          Map.entry("W", "2"),
          Map.entry("F", "2"),
          Map.entry("DURATION", "10s"),
          Map.entry("SIZE", "1m"),
          Map.entry("BYTES", "1048576"),
          Map.entry("FILE", "docs-example.txt"),
          Map.entry("DIR", "/tmp"),
          Map.entry("PATH", "/tmp/weft-docs-example.sock"),
          Map.entry("NAME", "example"),
          Map.entry("KEY", "key"),
          Map.entry("VALUE", "value"),
          Map.entry("UID", "1001"),
          Map.entry("ROLE", "submit"),
          Map.entry("TEXT", "text"),
          Map.entry("CODES", "2"),
          Map.entry("S", "running"),
          Map.entry("OWNER", "alice"),
          Map.entry("WEIGHT", "2"));

  private static final Pattern PLACEHOLDER =
      Pattern.compile("(?<![A-Za-z0-9_])[A-Z][A-Z0-9_]*(?![A-Za-z0-9_])");
  private static final Set<String> PREFIXES = Set.of("sudo", "env", "time", "exec", "nohup");

  private final Path emptyConfig;
  // The model the names are looked up in; parsing takes a fresh command line each time.
  private final CommandSpec model = newCommandLine().getCommandSpec();
  // Answers by command line: the docs repeat many, and a fresh command line is slow to build.
  private final Map<List<Object>, List<String>> answers = new HashMap<>();
  private final Set<List<String>> parsedWithSamples = new HashSet<>();

  /** {@code emptyConfig}: an empty properties file, the value of every {@code --config}. */
  DocCommandCheck(Path emptyConfig) {
    this.emptyConfig = emptyConfig;
  }

  /**
   * The arguments of {@code words} after the {@code weft} launcher ({@code weft}, {@code ./weft},
   * {@code bin/weft}, {@code /opt/.../bin/weft}), past environment settings and {@code sudo}; empty
   * when the command is not weft's.
   */
  static Optional<List<String>> weftArguments(List<String> words) {
    int i = 0;
    while (i < words.size()
        && (words.get(i).matches("[A-Za-z_][A-Za-z0-9_]*=.*") || PREFIXES.contains(words.get(i)))) {
      i++;
    }
    if (i >= words.size()) {
      return Optional.empty();
    }
    String launcher = words.get(i);
    if (!launcher.equals("weft") && !launcher.endsWith("/weft")) {
      return Optional.empty();
    }
    return Optional.of(words.subList(i + 1, words.size()));
  }

  /**
   * Whether a code span is a command line rather than weft's output quoted in the text ({@code weft
   * submit: task N stdout: ...}): its first argument is a subcommand, an option or a placeholder.
   */
  boolean isCommand(List<String> arguments) {
    String first = arguments.get(0).replaceFirst("^\\[", "");
    return model.subcommands().containsKey(first) || isOption(first) || isPlaceholder(first);
  }

  /** How many distinct command lines were parsed by picocli, placeholders given samples. */
  int parsed() {
    return parsedWithSamples.size();
  }

  /** How many distinct command lines were checked. */
  int checked() {
    return answers.size();
  }

  /** What is wrong with {@code weft ARGS}; empty when nothing is. */
  List<String> problems(List<String> arguments, boolean inline) {
    return answers.computeIfAbsent(
        List.of(List.copyOf(arguments), inline), k -> check(arguments, inline));
  }

  private List<String> check(List<String> arguments, boolean inline) {
    List<String> args = new ArrayList<>();
    boolean synopsis = false;
    for (String a : arguments) {
      String w = a;
      if (w.startsWith("[")) {
        w = w.substring(1);
        synopsis = true;
      }
      if (w.endsWith("]") && w.indexOf('[') < 0) {
        w = w.substring(0, w.length() - 1);
        synopsis = true;
      }
      if (!w.isEmpty()) {
        args.add(w);
      }
    }
    List<String> problems = new ArrayList<>();
    boolean anySubcommand = checkNames(args, problems);
    if (!problems.isEmpty() || anySubcommand) {
      return problems;
    }
    Optional<List<String>> samples = withSamples(args);
    if (samples.isEmpty()) {
      return problems;
    }
    parsedWithSamples.add(samples.get());
    try {
      newCommandLine().parseArgs(samples.get().toArray(String[]::new));
    } catch (MissingParameterException e) {
      if (!inline && !synopsis) {
        problems.add("picocli: " + e.getMessage() + " (parsed as " + samples.get() + ")");
      }
    } catch (UnmatchedArgumentException e) {
      if (!inline || e.getUnmatched().stream().anyMatch(DocCommandCheck::isOption)) {
        problems.add("picocli: " + e.getMessage() + " (parsed as " + samples.get() + ")");
      } // else weft's output quoted in the text: "weft worker ID stopped"
    } catch (ParameterException e) {
      problems.add("picocli: " + e.getMessage() + " (parsed as " + samples.get() + ")");
    }
    return problems;
  }

  /** weft's command line, with no config file searched for and no environment. */
  static CommandLine newCommandLine() {
    Properties system = new Properties();
    system.setProperty(ConfigDefaults.SEARCH_PROPERTY, "false");
    return Main.newCommandLine(new ConfigDefaults(Map.of(), system));
  }

  /**
   * Walks {@code args} down picocli's model, adding a problem for every subcommand or option that
   * is not there. Returns whether a placeholder stood for the subcommand (then the options were
   * checked against every subcommand below it, and the arguments cannot be parsed).
   */
  private boolean checkNames(List<String> args, List<String> problems) {
    CommandSpec command = model;
    List<CommandSpec> anyOf = null;
    for (int i = 0; i < args.size(); i++) {
      String w = args.get(i);
      if (w.equals("--")) {
        break; // the rest is positional: an exec job's command
      }
      if (isOption(w)) {
        boolean takesValue = false;
        for (String name : alternatives(w)) {
          String bare = name.contains("=") ? name.substring(0, name.indexOf('=')) : name;
          OptionSpec option = anyOf == null ? command.findOption(bare) : findInAny(anyOf, bare);
          if (option == null) {
            problems.add(unknownOption(bare, anyOf == null ? List.of(command) : anyOf));
            takesValue = !name.contains("=") && i + 1 < args.size() && !isOption(args.get(i + 1));
          } else if (!name.contains("=") && option.arity().min() > 0) {
            takesValue = true;
            if (option.arity().isVariable()) {
              while (i + 2 < args.size()
                  && !isOption(args.get(i + 2))
                  && !args.get(i + 2).equals("--")) {
                i++;
              }
            }
          }
        }
        if (takesValue) {
          i++;
        }
        continue;
      }
      if (anyOf != null) {
        continue;
      }
      CommandLine sub = command.subcommands().get(w);
      if (sub != null) {
        command = sub.getCommandSpec();
        continue;
      }
      if (!command.subcommands().isEmpty() && command.positionalParameters().isEmpty()) {
        if (isPlaceholder(w)) {
          anyOf = below(command).toList();
          continue;
        }
        problems.add(
            "'"
                + command.qualifiedName()
                + "' has no subcommand '"
                + w
                + "' (it has "
                + String.join(", ", command.subcommands().keySet())
                + ")");
        return false;
      }
    }
    return anyOf != null;
  }

  private static Stream<CommandSpec> below(CommandSpec command) {
    return command.subcommands().values().stream()
        .map(CommandLine::getCommandSpec)
        .flatMap(c -> Stream.concat(Stream.of(c), below(c)));
  }

  private static OptionSpec findInAny(List<CommandSpec> commands, String name) {
    return commands.stream()
        .map(c -> c.findOption(name))
        .filter(o -> o != null)
        .findFirst()
        .orElse(null);
  }

  private static String unknownOption(String name, List<CommandSpec> commands) {
    String where =
        commands.size() == 1
            ? "'" + commands.get(0).qualifiedName() + "'"
            : "any subcommand of '" + commands.get(0).parent().qualifiedName() + "'";
    Optional<String> near =
        commands.stream()
            .flatMap(c -> c.options().stream())
            .flatMap(o -> Stream.of(o.names()))
            .distinct()
            .min(Comparator.comparingInt(n -> distance(n, name)))
            .filter(n -> distance(n, name) <= 3);
    return "unknown option '"
        + name
        + "' for "
        + where
        + near.map(n -> " (did you mean '" + n + "'?)").orElse("");
  }

  private Optional<List<String>> withSamples(List<String> args) {
    List<String> out = new ArrayList<>();
    boolean positionalOnly = false;
    for (int i = 0; i < args.size(); i++) {
      String w = args.get(i);
      if (positionalOnly) {
        out.add(w);
        continue;
      }
      if (w.equals("--")) {
        positionalOnly = true;
        out.add(w);
        continue;
      }
      if (w.equals(ConfigDefaults.OPTION) && i + 1 < args.size()) {
        out.add(w);
        out.add(emptyConfig.toString());
        i++;
        continue;
      }
      if (w.startsWith(ConfigDefaults.OPTION + "=")) {
        out.add(ConfigDefaults.OPTION + "=" + emptyConfig);
        continue;
      }
      Optional<String> sample = sample(w);
      if (sample.isEmpty()) {
        return Optional.empty();
      }
      out.add(sample.get());
    }
    return Optional.of(out);
  }

  /** {@code word} with its placeholders replaced by samples; empty when one has none. */
  private static Optional<String> sample(String word) {
    if (word.contains("...") || word.contains("$") || word.contains("<") || word.contains("[")) {
      return Optional.empty();
    }
    String w = alternatives(word).get(0);
    if (!isOption(word) && word.contains("|")) {
      w = word.substring(0, word.indexOf('|'));
    }
    Matcher m = PLACEHOLDER.matcher(w);
    StringBuilder b = new StringBuilder();
    while (m.find()) {
      String sample = SAMPLES.get(m.group());
      if (sample == null) {
        return Optional.empty();
      }
      m.appendReplacement(b, Matcher.quoteReplacement(sample));
    }
    m.appendTail(b);
    return Optional.of(b.toString());
  }

  /** {@code --follow|-f} as its names; any other word as itself. */
  private static List<String> alternatives(String word) {
    List<String> parts = List.of(word.split("\\|"));
    return parts.size() > 1 && parts.stream().allMatch(DocCommandCheck::isOption)
        ? parts
        : List.of(word);
  }

  private static boolean isOption(String word) {
    return word.length() > 1 && word.startsWith("-") && !word.matches("-[0-9.].*");
  }

  private static boolean isPlaceholder(String word) {
    return word.contains("...") || word.matches("[A-Z][A-Z0-9_]*");
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int swap = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + swap);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
