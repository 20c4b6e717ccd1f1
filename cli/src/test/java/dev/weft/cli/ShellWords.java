package dev.weft.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a shell command line, as the docs write them, into simple commands and their words: quotes
 * and backslashes as sh reads them; {@code |}, {@code ||}, {@code &&}, {@code ;} and {@code &}
 * between commands; redirections ({@code > f}, {@code 2>&1}) dropped; a {@code #} that starts a
 * word begins a comment. A {@code |} with no blank on either side ({@code read|submit|admin}) is
 * part of its word, as in a synopsis. Enough for the docs' examples, not a shell.
 */
final class ShellWords {
  private final String line;
  private int pos;
  private final List<List<String>> commands = new ArrayList<>();
  private List<String> words = new ArrayList<>();

  private ShellWords(String line) {
    this.line = line;
  }

  /** The simple commands of {@code line}, each as its words, quotes removed. */
  static List<List<String>> commands(String line) {
    ShellWords s = new ShellWords(line);
    s.run();
    return s.commands;
  }

  private void run() {
    while (pos < line.length()) {
      char c = line.charAt(pos);
      if (Character.isWhitespace(c)) {
        pos++;
      } else if (c == '#') {
        break;
      } else if (c == ';' || c == '&' || (c == '|' && separatedPipe())) {
        pos++;
        if (pos < line.length() && (line.charAt(pos) == c)) {
          pos++;
        }
        endCommand();
      } else if (c == '>' || c == '<') {
        redirection();
      } else {
        String word = word();
        if (pos < line.length()
            && (line.charAt(pos) == '>' || line.charAt(pos) == '<')
            && word.chars().allMatch(Character::isDigit)) {
          redirection(); // 2>&1, 2>file: the digits name the descriptor
        } else {
          words.add(word);
        }
      }
    }
    endCommand();
  }

  /** A pipe between commands, not the {@code |} of alternatives such as {@code auto|grpc}. */
  private boolean separatedPipe() {
    boolean blankBefore = pos == 0 || Character.isWhitespace(line.charAt(pos - 1));
    int after = pos + 1;
    if (after < line.length() && line.charAt(after) == '|') {
      after++;
    }
    boolean blankAfter = after >= line.length() || Character.isWhitespace(line.charAt(after));
    return blankBefore || blankAfter;
  }

  private void redirection() {
    pos++;
    if (pos < line.length() && (line.charAt(pos) == '>' || line.charAt(pos) == '&')) {
      pos++;
      if (line.charAt(pos - 1) == '&') {
        while (pos < line.length()
            && (Character.isDigit(line.charAt(pos)) || line.charAt(pos) == '-')) {
          pos++;
        }
        return;
      }
    }
    while (pos < line.length() && Character.isWhitespace(line.charAt(pos))) {
      pos++;
    }
    if (pos < line.length()) {
      word(); // the file redirected to or from
    }
  }

  private String word() {
    StringBuilder b = new StringBuilder();
    while (pos < line.length()) {
      char c = line.charAt(pos);
      if (Character.isWhitespace(c)
          || c == ';'
          || c == '>'
          || c == '<'
          || c == '&'
          || (c == '|' && separatedPipe())) {
        break;
      }
      pos++;
      if (c == '\'') {
        int end = line.indexOf('\'', pos);
        end = end < 0 ? line.length() : end;
        b.append(line, pos, end);
        pos = Math.min(end + 1, line.length());
      } else if (c == '"') {
        while (pos < line.length() && line.charAt(pos) != '"') {
          char d = line.charAt(pos++);
          if (d == '\\' && pos < line.length() && "\"\\$`".indexOf(line.charAt(pos)) >= 0) {
            d = line.charAt(pos++);
          }
          b.append(d);
        }
        pos = Math.min(pos + 1, line.length());
      } else if (c == '\\' && pos < line.length()) {
        b.append(line.charAt(pos++));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private void endCommand() {
    if (!words.isEmpty()) {
      commands.add(words);
      words = new ArrayList<>();
    }
  }
}
