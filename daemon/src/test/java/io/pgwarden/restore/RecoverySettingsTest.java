package io.pgwarden.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class RecoverySettingsTest {
    @Test
    void quotesByPostgresqlsLexerRules() {
        assertThat(RecoverySettings.quote("it's")).isEqualTo("'it''s'");
        // A backslash starts an escape in postgresql.conf: doubled, it stays one backslash.
        assertThat(RecoverySettings.quote("a\\'b")).isEqualTo("'a\\\\''b'");
        assertThatThrownBy(() -> RecoverySettings.quote("x\ninclude = 'pwn.conf'")).hasMessageContaining("control characters");
    }

    @Test
    void aRestorePointNameThatCouldAddSettingsIsRefusedNamingTheField() {
        assertThatThrownBy(() -> RestoreTarget.parseName("x\\'\ninclude = 'pwn.conf'\n#", "targetName"))
                .hasMessage("targetName must not contain control characters (such as a newline)");
        assertThatThrownBy(() -> RestoreTarget.parseName("x\\'", "--target-name")).hasMessage("--target-name must not contain a backslash");
        assertThatThrownBy(() -> RestoreTarget.parseName("é".repeat(32), "--target-name"))
                .hasMessage("--target-name is longer than PostgreSQL's limit of 63 bytes for a restore point name");
        assertThat(RestoreTarget.parseName("before-upgrade 'v2'", "x").restorePoint()).isEqualTo("before-upgrade 'v2'");
    }

    @Test
    void everyLineWrittenIsOneSetting() {
        var settings = new RecoverySettings("cp '/a b/%f' %p", RestoreTarget.parseName("o'neil", "x"), "promote", OptionalInt.empty(), "c");
        assertThat(settings.lines()).containsExactly("# c", "restore_command = 'cp ''/a b/%f'' %p'", "recovery_target_name = 'o''neil'",
                "recovery_target_action = 'promote'", "recovery_target_timeline = 'latest'");
    }
}
