package dev.weft.security;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class JoinTokenTest {
  private static final String FP =
      "7734c38ba8f1a116367f3966f6da97645c1410482a8e0d0b3825e0edfe95c240";
  private static final String SECRET = "be20b1d671c4f5b2c3d077c99488ac2f";
  private static final String TOKEN = "weft1-" + FP + "-" + SECRET;

  @Test
  void parsesWhatItPrints() {
    JoinToken token =
        JoinToken.parse("  " + TOKEN.toUpperCase(Locale.ROOT).replace("WEFT1", "weft1") + "\n");
    assertEquals(TOKEN, token.text());
    assertEquals(FP, token.fingerprintHex());
    assertTrue(token.secretEquals(java.util.HexFormat.of().parseHex(SECRET)));
    assertFalse(token.secretEquals(new byte[JoinToken.SECRET_BYTES]));
    assertEquals(TOKEN, JoinToken.of(token.fingerprint(), token.secret()).text());
  }

  @Test
  void neverPrintsTheSecretByAccident() {
    assertEquals("weft1-" + FP + "-<secret>", JoinToken.parse(TOKEN).toString());
  }

  @Test
  void badTokensAreRefusedWithoutRepeatingThem() {
    for (String bad :
        new String[] {
          "",
          "docker-" + FP,
          "weft1-" + FP,
          "weft1-" + FP + "-" + SECRET + "-x",
          "weft1-" + FP.substring(1) + "-" + SECRET,
          "weft1-" + FP + "-" + SECRET.replace('b', 'g')
        }) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> JoinToken.parse(bad), bad);
      assertFalse(e.getMessage().contains(SECRET), e.getMessage());
      assertTrue(
          e.getMessage().equals("the join token is empty")
              || e.getMessage().contains("weft1-<64 hex digits>-<32 hex digits>"),
          e.getMessage());
    }
  }

  @Test
  void freshSecretsDiffer() {
    byte[] a = JoinToken.newSecret();
    assertEquals(JoinToken.SECRET_BYTES, a.length);
    assertFalse(Arrays.equals(a, JoinToken.newSecret()));
    assertArrayEquals(a, JoinToken.of(new byte[32], a).secret());
  }
}
