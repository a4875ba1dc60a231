package io.pgwarden.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SchedulerDatabaseTest {
    @Test
    void takesEveryCreateOfQuartzsScriptAndNoneOfItsDrops() {
        List<String> statements = SchedulerDatabase.quartzStatements();
        assertThat(statements).allMatch(s -> s.startsWith("CREATE TABLE") || s.startsWith("CREATE INDEX"));
        assertThat(statements).filteredOn(s -> s.startsWith("CREATE TABLE")).hasSize(11);
        assertThat(statements).anyMatch(s -> s.startsWith("CREATE TABLE QRTZ_LOCKS"));
        assertThat(String.join(";", statements)).doesNotContainIgnoringCase("DROP").doesNotContain("COMMIT").doesNotContain("--");
    }
}
