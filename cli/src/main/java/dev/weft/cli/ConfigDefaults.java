package dev.weft.cli;

import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.AnnotatedElement;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.IExecutionStrategy;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.PropertiesDefaultProvider;

/**
 * Option defaults from a properties file, looked up by picocli's {@link PropertiesDefaultProvider}:
 * {@code weft.COMMAND.OPTION} for one command ({@code weft.coordinator.listen}, {@code
 * weft.submit.sum.tasks}), or a bare {@code OPTION} for every command that has it ({@code
 * coordinator}). The command line beats the file, and so does an environment variable an option
 * reads ({@code WEFT_COORDINATOR}).
 *
 * <p>The file is {@code --config FILE}, else {@code $WEFT_CONFIG}, else a distribution's {@code
 * conf/weft.properties} (system property {@value #DIST_PROPERTY}, set by {@code bin/weft}), else
 * {@code $XDG_CONFIG_HOME/weft/weft.properties} ({@code ~/.config/weft/weft.properties}) when it
 * exists. A named file that is missing, an unknown key or a flag that is neither true nor false is
 * a usage error. The file is found lazily: picocli asks for defaults once the arguments are parsed,
 * so a {@code --config} anywhere on the command line is known by then.
 */
final class ConfigDefaults implements IDefaultValueProvider {
  static final String OPTION = "--config";
  static final String ENV = "WEFT_CONFIG";
  static final String DIST_PROPERTY = "weft.config.dist";

  /**
   * "false" in the JVMs weft starts itself (the workers of {@code weft demo} and {@code weft
   * coordinator --local-workers}): their parent gives them every option they need, and a user's
   * {@code weft.worker.*} keys must not change them. Only an explicit {@code --config} is read.
   */
  static final String SEARCH_PROPERTY = "weft.config.search";

  private static final Pattern ENV_DEFAULT = Pattern.compile("\\$\\{env:([A-Za-z_][A-Za-z0-9_]*)");

  private final Map<String, String> env;
  private final Properties system;
  // The file of the command line being run, read once; parsing is single-threaded.
  private Loaded loaded;

  ConfigDefaults(Map<String, String> env, Properties system) {
    this.env = Map.copyOf(env);
    this.system = system;
  }

  /** Reads this process's environment and system properties. */
  static ConfigDefaults fromEnvironment() {
    return new ConfigDefaults(System.getenv(), System.getProperties());
  }

  /** Installs this provider on {@code cmd}, with the flag handling picocli's provider lacks. */
  CommandLine installOn(CommandLine cmd) {
    IExecutionStrategy next = cmd.getExecutionStrategy();
    CommandLine.IParameterExceptionHandler errors = cmd.getParameterExceptionHandler();
    return cmd.setDefaultValueProvider(this)
        .setExecutionStrategy(
            parseResult -> {
              applyFlags(parseResult);
              return next.execute(parseResult);
            })
        .setParameterExceptionHandler((ex, args) -> errors.handleParseException(explain(ex), args));
  }

  @Override
  public String defaultValue(ArgSpec arg) throws Exception {
    // Flags are left to applyFlags: picocli sets a flag whose default is true to false when it is
    // given, so `exit-when-stuck = true` in the file would turn --exit-when-stuck off.
    if (!(arg instanceof OptionSpec option) || !configurable(option) || isFlag(option)) {
      return null;
    }
    if (fromEnvironment(option)) {
      return null;
    }
    Loaded file = load(option.command());
    if (file == null) {
      return null;
    }
    String value = file.provider.defaultValue(option);
    if (value != null) {
      file.served.add(option);
    }
    return value;
  }

  /**
   * Sets the flags the file turns on (or off) that the command line does not mention. Runs before
   * every command, also one with nothing to default (weft --version): a bad file is always an
   * error.
   */
  private void applyFlags(ParseResult parseResult) {
    Loaded file = load(parseResult.commandSpec());
    if (file == null) {
      return;
    }
    for (ParseResult r = parseResult; r != null; r = r.subcommand()) {
      for (OptionSpec option : r.commandSpec().options()) {
        if (!configurable(option) || !isFlag(option) || r.hasMatchedOption(option)) {
          continue;
        }
        String key = file.keyFor(option);
        if (key != null) {
          option.setValue(Boolean.parseBoolean(file.values.get(key)));
        }
      }
    }
  }

  /** A bad value from the file says where it came from; the user may not have typed it. */
  private ParameterException explain(ParameterException ex) {
    ArgSpec arg = ex.getArgSpec();
    Loaded file = loaded;
    if (file == null || !(arg instanceof OptionSpec option) || !file.served.contains(option)) {
      return ex;
    }
    return new ParameterException(
        ex.getCommandLine(),
        ex.getMessage() + " (from " + file.keyFor(option) + " in " + file.path + ")",
        ex,
        arg,
        ex.getValue());
  }

  /** True when the option's default reads an environment variable that is set: it wins. */
  private boolean fromEnvironment(OptionSpec option) {
    // The annotation's own text: picocli's accessors interpolate it, or ask this provider again.
    if (!(option.userObject() instanceof AnnotatedElement element)
        || element.getAnnotation(Option.class) == null) {
      return false;
    }
    Matcher m = ENV_DEFAULT.matcher(element.getAnnotation(Option.class).defaultValue());
    while (m.find()) {
      String value = env.get(m.group(1));
      if (value != null && !value.isEmpty()) {
        return true;
      }
    }
    return false;
  }

  private Loaded load(CommandSpec command) {
    Source source = locate(command);
    if (source == null) {
      return null;
    }
    if (loaded == null || !loaded.path.equals(source.path)) {
      loaded = read(source, command);
    }
    return loaded;
  }

  private Source locate(CommandSpec command) {
    for (CommandSpec c = command; c != null; c = c.parent()) {
      OptionSpec option = c.findOption(OPTION);
      if (option != null && option.getValue() instanceof Path named) {
        return new Source(named, OPTION);
      }
    }
    if ("false".equalsIgnoreCase(system.getProperty(SEARCH_PROPERTY, ""))) {
      return null;
    }
    String named = env.getOrDefault(ENV, "");
    if (!named.isBlank()) {
      return new Source(path(command, named, "$" + ENV), "$" + ENV);
    }
    String dist = system.getProperty(DIST_PROPERTY, "");
    if (!dist.isBlank() && Files.exists(Path.of(dist))) {
      return new Source(Path.of(dist), "the distribution");
    }
    Path user = userConfig();
    return user != null && Files.exists(user) ? new Source(user, "the user's config") : null;
  }

  /** $XDG_CONFIG_HOME/weft/weft.properties (if absolute, as the XDG spec asks), else ~/.config. */
  private Path userConfig() {
    String xdg = env.getOrDefault("XDG_CONFIG_HOME", "");
    if (xdg.startsWith("/")) {
      return Path.of(xdg, "weft", "weft.properties");
    }
    // $HOME first, as shells have it; user.home is the passwd entry's.
    String home = env.getOrDefault("HOME", "");
    if (!home.startsWith("/")) {
      home = system.getProperty("user.home", "");
    }
    return home.isEmpty() ? null : Path.of(home, ".config", "weft", "weft.properties");
  }

  private static Path path(CommandSpec command, String text, String namedBy) {
    try {
      return Path.of(text);
    } catch (InvalidPathException e) {
      throw new ParameterException(
          command.commandLine(), "the config file named by " + namedBy + " is not a path: " + text);
    }
  }

  private static Loaded read(Source source, CommandSpec command) {
    CommandLine cmd = command.commandLine();
    Path path = source.path;
    if (!Files.exists(path)) {
      throw new ParameterException(
          cmd, "config file " + path + " (named by " + source.namedBy + ") does not exist");
    }
    if (Files.isDirectory(path)) {
      throw new ParameterException(cmd, "config file " + path + " is a directory, not a file");
    }
    Properties raw = new Properties();
    try (Reader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
      raw.load(in);
    } catch (CharacterCodingException e) {
      throw new ParameterException(cmd, "config file " + path + " is not UTF-8 text");
    } catch (IOException | IllegalArgumentException e) {
      // IllegalArgumentException: a malformed unicode escape in the file.
      throw new ParameterException(cmd, "cannot read config file " + path + ": " + describe(e));
    }
    Map<String, List<OptionSpec>> known = knownKeys(root(command));
    Map<String, String> values = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    for (String key : new TreeSet<>(raw.stringPropertyNames())) {
      // Properties keep trailing blanks; an empty value is the same as leaving the key out.
      String value = raw.getProperty(key).strip();
      List<OptionSpec> options = known.get(key);
      if (options == null) {
        problems.add("unknown key '" + key + "'" + suggest(key, known.keySet()));
      } else if (!value.isEmpty()) {
        boolean flag = options.stream().anyMatch(ConfigDefaults::isFlag);
        if (flag && !value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
          problems.add(key + " is a flag: write true or false, not '" + value + "'");
        }
        values.put(key, flag ? value.toLowerCase(Locale.ROOT) : value);
      }
    }
    if (!problems.isEmpty()) {
      throw new ParameterException(cmd, "config file " + path + ": " + String.join("; ", problems));
    }
    return new Loaded(path, values);
  }

  /** Every key the file may hold: weft.COMMAND.OPTION, and OPTION alone for all that have it. */
  private static Map<String, List<OptionSpec>> knownKeys(CommandSpec root) {
    Map<String, List<OptionSpec>> keys = new LinkedHashMap<>();
    List<CommandSpec> todo = new ArrayList<>(List.of(root));
    Set<CommandSpec> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    while (!todo.isEmpty()) {
      CommandSpec command = todo.removeLast();
      if (!seen.add(command)) {
        continue; // a subcommand with aliases is listed once per name
      }
      for (OptionSpec option : command.options()) {
        if (configurable(option)) {
          for (String key : keys(option)) {
            keys.computeIfAbsent(key, k -> new ArrayList<>()).add(option);
          }
        }
      }
      command.subcommands().values().forEach(sub -> todo.add(sub.getCommandSpec()));
    }
    return keys;
  }

  /** The keys PropertiesDefaultProvider tries for an option, in its order. */
  private static List<String> keys(OptionSpec option) {
    String prefix = option.command().qualifiedName(".") + ".";
    List<String> names = new ArrayList<>();
    if (option.descriptionKey() != null && !option.descriptionKey().isEmpty()) {
      names.add(option.descriptionKey());
    }
    names.add(option.longestName().replaceFirst("^[^\\p{javaJavaIdentifierPart}]+", ""));
    List<String> keys = new ArrayList<>();
    for (String name : names) {
      keys.add(prefix + name);
      keys.add(name);
    }
    return keys;
  }

  /** Options a user sets; not help, not the hidden ones weft passes to itself, not --config. */
  private static boolean configurable(OptionSpec option) {
    return !option.hidden()
        && !option.usageHelp()
        && !option.versionHelp()
        && !List.of(option.names()).contains(OPTION);
  }

  private static boolean isFlag(OptionSpec option) {
    return option.arity().max() == 0;
  }

  private static CommandSpec root(CommandSpec command) {
    CommandSpec root = command;
    while (root.parent() != null) {
      root = root.parent();
    }
    return root;
  }

  private static String suggest(String key, Set<String> known) {
    if (known.contains("weft." + key)) {
      return " (did you mean 'weft." + key + "'?)";
    }
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : known) {
      int d = distance(key, candidate);
      if (d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
    return best != null && bestDistance <= Math.max(1, key.length() / 4)
        ? " (did you mean '" + best + "'?)"
        : " (keys are weft.COMMAND.OPTION, for example weft.coordinator.listen, or OPTION alone)";
  }

  /** Levenshtein distance, for the suggestion above. */
  private static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }

  private static String describe(Exception e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  /** A config file and who named it, for messages. */
  private record Source(Path path, String namedBy) {}

  /** One read file: its non-empty values, and what it has supplied so far. */
  private static final class Loaded {
    final Path path;
    final Map<String, String> values;
    final PropertiesDefaultProvider provider;
    final Set<OptionSpec> served = Collections.newSetFromMap(new IdentityHashMap<>());

    Loaded(Path path, Map<String, String> values) {
      this.path = path;
      this.values = Collections.unmodifiableMap(values);
      Properties properties = new Properties();
      properties.putAll(values);
      this.provider = new PropertiesDefaultProvider(properties);
    }

    /** The key that sets {@code option}, by the provider's rules, or null. */
    String keyFor(OptionSpec option) {
      return keys(option).stream().filter(values::containsKey).findFirst().orElse(null);
    }
  }
}
