package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** {@code --journal postgresql://...}: what is taken, and what is refused, saying why. */
class PostgresTargetTest {
  private static final String FORM =
      "; expected sqlite or postgresql://HOST[:PORT]/DB?user=NAME[&sslmode=MODE]";

  private static String refusal(String url) {
    return assertThrows(IllegalArgumentException.class, () -> PostgresTarget.parse(url))
        .getMessage();
  }

  @Test
  void aUrlIsReadWithItsDefaults() {
    PostgresTarget t = PostgresTarget.parse("postgresql://db.example:6543/jobs?user=weft");
    assertEquals(new PostgresTarget("db.example", 6543, "jobs", "weft", null), t);
    assertEquals("jdbc:postgresql://db.example:6543/jobs", t.jdbcUrl());
    PostgresTarget v6 = PostgresTarget.parse("postgresql://[::1]/jobs?user=weft&sslmode=require");
    assertEquals(new PostgresTarget("::1", 5432, "jobs", "weft", "require"), v6);
    assertEquals("jdbc:postgresql://[::1]:5432/jobs?sslmode=require", v6.jdbcUrl());
    assertEquals("postgresql://[::1]:5432/jobs?user=weft&sslmode=require", v6.toString());
  }

  @Test
  void aPasswordInTheUrlIsRefusedSayingWhereItGoes() {
    String why = "(a URL shows in ps and shell history)";
    assertEquals(
        "--journal: the URL must not carry a user or password before the host (a URL shows in ps"
            + " and shell history); name the user with ?user=NAME and give the password in"
            + " WEFT_JOURNAL_PASSWORD or --journal-password-file FILE",
        refusal("postgresql://weft:secret@db:5432/jobs"));
    assertEquals(
        "--journal: the URL must not carry a password "
            + why
            + "; give it in"
            + " WEFT_JOURNAL_PASSWORD or --journal-password-file FILE",
        refusal("postgresql://db/jobs?user=weft&password=secret"));
  }

  @Test
  void badUrlsAreRefusedNamingTheForm() {
    assertEquals(
        "--journal: cannot use 'mysql://db/jobs' (it must start with postgresql://)" + FORM,
        refusal("mysql://db/jobs"));
    assertEquals(
        "--journal: cannot use 'postgresql://db/jobs' (it names no user (?user=NAME))" + FORM,
        refusal("postgresql://db/jobs"));
    assertEquals(
        "--journal: cannot use 'postgresql://db?user=weft' (it names no database (one path"
            + " segment: /DB))"
            + FORM,
        refusal("postgresql://db?user=weft"));
    assertEquals(
        "--journal: cannot use 'postgresql://db/jobs?user=weft&ssl=true' (it has parameter"
            + " 'ssl'; only user and sslmode are taken)"
            + FORM,
        refusal("postgresql://db/jobs?user=weft&ssl=true"));
    assertEquals(
        "--journal: cannot use 'postgresql://db/jobs?user=weft&sslmode=maybe' (sslmode 'maybe'"
            + " is none of disable, allow, prefer, require, verify-ca, verify-full)"
            + FORM,
        refusal("postgresql://db/jobs?user=weft&sslmode=maybe"));
    assertEquals(
        "--journal: cannot use 'postgresql:///jobs?user=weft' (it names no host)" + FORM,
        refusal("postgresql:///jobs?user=weft"));
  }
}
