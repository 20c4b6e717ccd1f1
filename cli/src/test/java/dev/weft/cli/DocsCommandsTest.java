package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The docs against the code: every {@code weft} command in README.md and docs/*.md (fenced code
 * blocks and inline code) must name subcommands and options that exist and, where its values are
 * not placeholders, parse as {@code weft} parses it (see {@link DocCommandCheck}); every relative
 * markdown link must point at a file that exists and, with {@code #anchor}, at one of its headings.
 * So a renamed option or a moved section breaks the build, not the reader.
 */
final class DocsCommandsTest {
  private static final Path ROOT = repositoryRoot();

  @TempDir static Path tmp;
  private static DocCommandCheck check;

  @BeforeAll
  static void emptyConfigFile() throws IOException {
    check = new DocCommandCheck(Files.writeString(tmp.resolve("weft.properties"), ""));
  }

  @Test
  void everyWeftCommandInTheDocsParses() throws IOException {
    List<String> failures = new ArrayList<>();
    int checked = 0;
    for (MarkdownFile doc : docs()) {
      List<String> found = problems(doc);
      failures.addAll(found);
      checked += commandCount(doc);
    }
    assertTrue(checked >= 150, "found only " + checked + " weft commands in the docs");
    assertTrue(
        check.parsed() * 2 >= check.checked(),
        "only "
            + check.parsed()
            + " of "
            + check.checked()
            + " distinct commands could be parsed with samples");
    if (!failures.isEmpty()) {
      fail(
          failures.size()
              + " weft commands in the docs do not parse:\n"
              + String.join("\n", failures));
    }
  }

  @Test
  void everyRelativeLinkPointsAtAFileAndAHeading() throws IOException {
    List<String> failures = new ArrayList<>();
    Map<Path, MarkdownFile> cache = new HashMap<>();
    int checked = 0;
    for (MarkdownFile doc : docs()) {
      for (MarkdownFile.Link link : doc.links()) {
        Optional<String> problem = linkProblem(doc, link.target(), cache);
        checked++;
        problem.ifPresent(
            p -> failures.add(where(doc, link.line()) + ": (" + link.target() + ")\n    " + p));
      }
    }
    assertTrue(checked >= 100, "found only " + checked + " links in the docs");
    if (!failures.isEmpty()) {
      fail(failures.size() + " links in the docs lead nowhere:\n" + String.join("\n", failures));
    }
  }

  /** The checks themselves: a renamed option, subcommand or anchor must be caught. */
  @Test
  void aRenamedOptionSubcommandValueOrAnchorIsReported() {
    Path doc = ROOT.resolve("docs/example.md");
    MarkdownFile md =
        MarkdownFile.of(
            doc,
            String.join(
                "\n",
                "# Example",
                "",
                "```",
                "$ ./weft submit sum --form 1 --to 2 \\",
                "    --wait | tee out",
                "SUCCEEDED  job j1 (sum)",
                "$ ./weft submit sum --from 1 --to 2 --tasks many",
                "$ weft submt sum",
                "```",
                "",
                "Run `weft jobs --limt 3`; `weft cancel JOB [--grace DURATION]` is fine, and so are",
                "`weft submit KIND --wait` and `weft worker ID stopped`. See [x](#exampel) and",
                "[y](cluster.md#no-such-heading), [z](#example)."));

    List<String> problems = problems(md);
    assertEquals(4, problems.size(), String.join("\n", problems));
    assertTrue(
        problems.get(0).startsWith("docs/example.md:4: ./weft submit sum --form 1"),
        problems.get(0));
    assertTrue(
        problems
            .get(0)
            .contains("unknown option '--form' for 'weft submit sum' (did you mean '--from'?)"),
        problems.get(0));
    assertTrue(problems.get(1).startsWith("docs/example.md:7: "), problems.get(1));
    assertTrue(problems.get(1).contains("'many'"), problems.get(1));
    assertTrue(problems.get(2).startsWith("docs/example.md:8: weft submt sum"), problems.get(2));
    assertTrue(problems.get(2).contains("'weft' has no subcommand 'submt'"), problems.get(2));
    assertTrue(
        problems.get(3).startsWith("docs/example.md:11: weft jobs --limt 3"), problems.get(3));

    Map<Path, MarkdownFile> cache = new HashMap<>();
    assertEquals(
        List.of(
            "no heading of docs/example.md has the anchor #exampel",
            "no heading of docs/cluster.md has the anchor #no-such-heading"),
        md.links().stream().flatMap(l -> linkProblem(md, l.target(), cache).stream()).toList());
  }

  @Test
  void anchorsAreGitHubs() {
    assertEquals(
        "live-output-submit---wait---tag", MarkdownFile.slug("Live output: submit --wait --tag"));
    assertEquals(
        "workers-on-the-coordinators-host", MarkdownFile.slug("Workers on the coordinator's host"));
    assertEquals("weft-submit", MarkdownFile.slug("`weft submit`"));
    assertEquals("http-metrics-and-json-api", MarkdownFile.slug("HTTP: metrics and JSON API"));
  }

  private static List<String> problems(MarkdownFile doc) {
    List<String> out = new ArrayList<>();
    for (MarkdownFile.Snippet s : doc.snippets()) {
      for (List<String> words : ShellWords.commands(s.text())) {
        Optional<List<String>> args = DocCommandCheck.weftArguments(words);
        if (args.isEmpty()
            || args.get().isEmpty()
            || (s.inline() && !check.isCommand(args.get()))) {
          continue;
        }
        for (String p : check.problems(args.get(), s.inline())) {
          out.add(where(doc, s.line()) + ": " + s.text() + "\n    " + p);
        }
      }
    }
    return out;
  }

  private static int commandCount(MarkdownFile doc) {
    return (int)
        doc.snippets().stream()
            .flatMap(s -> ShellWords.commands(s.text()).stream())
            .filter(w -> DocCommandCheck.weftArguments(w).filter(a -> !a.isEmpty()).isPresent())
            .count();
  }

  private static Optional<String> linkProblem(
      MarkdownFile doc, String target, Map<Path, MarkdownFile> cache) {
    if (target.matches("[A-Za-z][A-Za-z0-9+.-]*:.*") || target.startsWith("//")) {
      return Optional.empty(); // http:, https:, mailto:
    }
    int hash = target.indexOf('#');
    String file = hash < 0 ? target : target.substring(0, hash);
    String anchor = hash < 0 ? "" : target.substring(hash + 1);
    Path path = file.isEmpty() ? doc.path() : doc.path().getParent().resolve(file).normalize();
    if (!file.isEmpty() && !Files.exists(path)) {
      return Optional.of("no file " + ROOT.relativize(path));
    }
    if (anchor.isEmpty()) {
      return Optional.empty();
    }
    if (!path.toString().endsWith(".md")) {
      return Optional.of("an anchor into " + ROOT.relativize(path) + ", which is not markdown");
    }
    MarkdownFile target0 =
        path.equals(doc.path())
            ? doc
            : cache.computeIfAbsent(
                path,
                p -> {
                  try {
                    return MarkdownFile.read(p);
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                });
    return target0.anchors().contains(anchor)
        ? Optional.empty()
        : Optional.of("no heading of " + ROOT.relativize(path) + " has the anchor #" + anchor);
  }

  private static String where(MarkdownFile doc, int line) {
    return ROOT.relativize(doc.path()) + ":" + line;
  }

  /** README.md and every docs/*.md, README first. */
  private static List<MarkdownFile> docs() throws IOException {
    List<MarkdownFile> docs = new ArrayList<>();
    docs.add(MarkdownFile.read(ROOT.resolve("README.md")));
    try (Stream<Path> files = Files.list(ROOT.resolve("docs"))) {
      for (Path p : files.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
        docs.add(MarkdownFile.read(p));
      }
    }
    return docs;
  }

  /** The directory above the module that holds README.md and docs/ (tests run in cli/). */
  private static Path repositoryRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("README.md")) && Files.isDirectory(p.resolve("docs"))) {
        return p;
      }
    }
    throw new IllegalStateException(
        "no README.md with a docs/ beside it above " + Path.of("").toAbsolutePath());
  }
}
