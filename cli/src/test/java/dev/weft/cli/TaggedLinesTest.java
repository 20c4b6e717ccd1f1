package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

final class TaggedLinesTest {
  private final List<String> lines = new ArrayList<>();
  private final TaggedLines tagged =
      new TaggedLines("in put", line -> lines.add(new String(line, StandardCharsets.ISO_8859_1)));

  private static ByteString bytes(String text) {
    return ByteString.copyFrom(text, StandardCharsets.ISO_8859_1);
  }

  @Test
  void eachLineGoesOnWholeWithTheTagAndATab() throws InterruptedException {
    tagged.add(bytes("one\ntw"));
    assertEquals(List.of("in put\tone\n"), lines, "a line waits for its newline");
    tagged.add(bytes("o\n\nthree"));
    tagged.finish();

    assertEquals(List.of("in put\tone\n", "in put\ttwo\n", "in put\t\n", "in put\tthree\n"), lines);
  }

  @Test
  void bytesPassAsWritten() throws InterruptedException {
    tagged.add(ByteString.copyFrom(new byte[] {(byte) 0xff, 0, '\r', '\n'}));

    assertEquals(List.of("in put\t\u00ff\u0000\r\n"), lines);
  }

  @Test
  void aLineWithoutANewlineGoesOnInBoundedPieces() throws InterruptedException {
    String longLine = "x".repeat(TaggedLines.MAX_LINE * 2 + 5);
    tagged.add(bytes(longLine.substring(0, 100)));
    tagged.add(bytes(longLine.substring(100) + "\n"));

    String piece = "in put\t" + "x".repeat(TaggedLines.MAX_LINE) + "\n";
    assertEquals(List.of(piece, piece, "in put\txxxxx\n"), lines);
  }

  @Test
  void finishingWithNothingPendingPrintsNothing() throws InterruptedException {
    tagged.add(bytes("done\n"));
    tagged.finish();

    assertEquals(List.of("in put\tdone\n"), lines);
  }
}
