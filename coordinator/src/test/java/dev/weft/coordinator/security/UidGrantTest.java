package dev.weft.coordinator.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

final class UidGrantTest {
  private static final String FORM =
      "the form is UID[:ROLE][+exec], ROLE read, submit or admin (for example 1001, 1001:read or"
          + " 1001:submit+exec)";

  @Test
  void aUidAloneMaySubmitWithoutExec() {
    assertEquals(new UidGrant(1001, Caller.Role.SUBMIT, false), UidGrant.parse("1001"));
  }

  @Test
  void roleAndExecAreRead() {
    assertEquals(new UidGrant(1001, Caller.Role.READ, false), UidGrant.parse("1001:read"));
    assertEquals(new UidGrant(7, Caller.Role.SUBMIT, true), UidGrant.parse("7:submit+exec"));
    assertEquals(new UidGrant(0, Caller.Role.ADMIN, true), UidGrant.parse("0:admin+exec"));
    assertEquals(new UidGrant(1001, Caller.Role.SUBMIT, true), UidGrant.parse("1001+exec"));
    assertEquals("1001:submit+exec", UidGrant.parse("1001+exec").toString());
  }

  @Test
  void badValuesSayWhatIsWrongAndTheForm() {
    assertEquals("--allow-uid 'alice': 'alice' is not a numeric uid; " + FORM, message("alice"));
    assertEquals("--allow-uid '-5': '-5' is not a numeric uid; " + FORM, message("-5"));
    assertEquals(
        "--allow-uid '99999999999': '99999999999' is not a numeric uid; " + FORM,
        message("99999999999"));
    assertEquals("--allow-uid '': '' is not a numeric uid; " + FORM, message(""));
    assertEquals("--allow-uid '1001:owner': 'owner' is not a role; " + FORM, message("1001:owner"));
    assertEquals(
        "--allow-uid '1001:submit+root': 'submit+root' is not a role; " + FORM,
        message("1001:submit+root"));
    assertEquals("--allow-uid '1001:': '' is not a role; " + FORM, message("1001:"));
  }

  @Test
  void aCallerOnTheSocketIsItsUid() {
    LocalDoor door = new LocalDoor(1000, java.util.List.of(UidGrant.parse("1001:read")));
    assertEquals(new Caller("uid:1000", true, Caller.Role.ADMIN, true), door.callerOf(1000));
    assertEquals(new Caller("uid:1001", false, Caller.Role.READ, false), door.callerOf(1001));
    assertEquals(null, door.callerOf(1002));
  }

  private static String message(String text) {
    return assertThrows(IllegalArgumentException.class, () -> UidGrant.parse(text)).getMessage();
  }
}
