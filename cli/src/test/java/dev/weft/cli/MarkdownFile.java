package dev.weft.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@link DocsCommandsTest} reads in a markdown file: the shell commands in its code (fenced
 * blocks and inline code spans), its relative links, and the anchors of its headings as GitHub
 * makes them. HTML comments are read as blank.
 */
final class MarkdownFile {
  /** A command line as the file writes it, at its first line (1-based). */
  record Snippet(int line, String text, boolean inline) {}

  /** A link's target as written, at its line (1-based). */
  record Link(int line, String target) {}

  // A prompt: "$ " or "node-a$ " at the start of a line.
  private static final Pattern PROMPT = Pattern.compile("^\\s*[\\w.@-]*\\$ (.*)$");
  private static final Pattern FENCE = Pattern.compile("^\\s*(```+|~~~+)\\s*([\\w+-]*).*$");
  private static final Pattern HEADING = Pattern.compile("^ {0,3}(#{1,6})\\s+(.*?)\\s*#*\\s*$");
  private static final Pattern LINK =
      Pattern.compile("!?\\[(?:[^\\]\\\\]|\\\\.)*\\]\\(([^)\\s]+)(?:\\s+\"[^\"]*\")?\\)");
  private static final Set<String> SHELL_FENCES = Set.of("", "sh", "bash", "shell", "console");

  private final Path path;
  private final List<String> lines;
  private final List<Snippet> snippets = new ArrayList<>();
  private final List<Link> links = new ArrayList<>();
  private final Set<String> anchors = new LinkedHashSet<>();

  private MarkdownFile(Path path, List<String> lines) {
    this.path = path;
    this.lines = lines;
    read();
  }

  static MarkdownFile read(Path path) throws IOException {
    return new MarkdownFile(path, blankComments(Files.readString(path)).lines().toList());
  }

  static MarkdownFile of(Path path, String text) {
    return new MarkdownFile(path, blankComments(text).lines().toList());
  }

  Path path() {
    return path;
  }

  /** Every shell command line in fenced code blocks and inline code. */
  List<Snippet> snippets() {
    return snippets;
  }

  List<Link> links() {
    return links;
  }

  Set<String> anchors() {
    return anchors;
  }

  private void read() {
    Map<String, Integer> slugs = new HashMap<>();
    List<String> paragraph = new ArrayList<>();
    int paragraphStart = 0;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      Matcher fence = FENCE.matcher(line);
      if (fence.matches()) {
        inlineText(paragraph, paragraphStart);
        paragraph.clear();
        i = fencedBlock(i, fence.group(1), fence.group(2).toLowerCase(Locale.ROOT));
        continue;
      }
      Matcher heading = HEADING.matcher(line);
      if (heading.matches()) {
        String slug = slug(heading.group(2));
        int seen = slugs.merge(slug, 1, Integer::sum);
        anchors.add(seen == 1 ? slug : slug + "-" + (seen - 1));
      }
      if (line.isBlank() || heading.matches()) {
        inlineText(paragraph, paragraphStart);
        paragraph.clear();
        if (heading.matches()) {
          inlineText(List.of(line), i + 1);
        }
        continue;
      }
      if (paragraph.isEmpty()) {
        paragraphStart = i + 1;
      }
      paragraph.add(line);
    }
    inlineText(paragraph, paragraphStart);
  }

  /** Reads the block that opens at line {@code open}; returns the index of its closing line. */
  private int fencedBlock(int open, String marker, String info) {
    int close = open + 1;
    while (close < lines.size() && !lines.get(close).strip().startsWith(marker)) {
      close++;
    }
    if (!SHELL_FENCES.contains(info)) {
      return close;
    }
    List<String> body = lines.subList(open + 1, Math.min(close, lines.size()));
    boolean prompts = body.stream().anyMatch(l -> PROMPT.matcher(l).matches());
    for (int j = 0; j < body.size(); j++) {
      Matcher prompt = PROMPT.matcher(body.get(j));
      if (prompts && !prompt.matches()) {
        continue; // output
      }
      int first = j;
      StringBuilder command = new StringBuilder(prompts ? prompt.group(1) : body.get(j));
      while (command.toString().endsWith("\\") && j + 1 < body.size()) {
        command.setLength(command.length() - 1);
        command.append(' ').append(body.get(++j).strip());
      }
      snippets.add(new Snippet(open + 2 + first, command.toString(), false));
    }
    return close;
  }

  /** The code spans and links of a paragraph whose first line is {@code start} (1-based). */
  private void inlineText(List<String> paragraph, int start) {
    String text = String.join("\n", paragraph);
    StringBuilder masked = new StringBuilder(text); // code spans blanked: links in code are code
    int i = 0;
    while (i < text.length()) {
      if (text.charAt(i) != '`') {
        i++;
        continue;
      }
      int run = i;
      while (run < text.length() && text.charAt(run) == '`') {
        run++;
      }
      String ticks = text.substring(i, run);
      int end = text.indexOf(ticks, run);
      while (end >= 0
          && end + ticks.length() < text.length()
          && text.charAt(end + ticks.length()) == '`') {
        end = text.indexOf(ticks, end + ticks.length() + 1);
      }
      if (end < 0) {
        i = run;
        continue;
      }
      String code = text.substring(run, end).replace('\n', ' ').replace("\\|", "|").strip();
      snippets.add(new Snippet(lineAt(text, i, start), code, true));
      for (int k = run; k < end; k++) {
        if (masked.charAt(k) != '\n') {
          masked.setCharAt(k, ' ');
        }
      }
      i = end + ticks.length();
    }
    Matcher link = LINK.matcher(masked);
    while (link.find()) {
      links.add(new Link(lineAt(text, link.start(1), start), link.group(1)));
    }
  }

  private static int lineAt(String text, int offset, int start) {
    return start + (int) text.substring(0, offset).chars().filter(c -> c == '\n').count();
  }

  /** HTML comments as blanks, newlines kept, so line numbers stay true. */
  private static String blankComments(String text) {
    StringBuilder b = new StringBuilder(text);
    int from = 0;
    while ((from = b.indexOf("<!--", from)) >= 0) {
      int end = b.indexOf("-->", from);
      end = end < 0 ? b.length() : end + 3;
      for (int i = from; i < end; i++) {
        if (b.charAt(i) != '\n') {
          b.setCharAt(i, ' ');
        }
      }
      from = end;
    }
    return b.toString();
  }

  /**
   * A heading's anchor as GitHub makes it: the text without markup, lower case, every character but
   * letters, digits, {@code _}, {@code -} and spaces dropped, spaces made {@code -}.
   */
  static String slug(String heading) {
    String text =
        heading.replaceAll("!?\\[([^\\]]*)\\]\\([^)]*\\)", "$1").replaceAll("<[^>]+>", "");
    text = text.replace("`", "").replace("*", "").strip().toLowerCase(Locale.ROOT);
    return text.replaceAll("[^\\p{L}\\p{N}\\p{M}_\\- ]", "").replace(' ', '-');
  }
}
