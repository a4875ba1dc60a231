package io.pgwarden.it.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgwarden.pg.ServerProbe;
import io.pgwarden.config.ConnectionConfig;
import io.pgwarden.config.Secret;
import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.it.support.PgCluster;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import io.pgwarden.pg.ServerInfo;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Server detection over JDBC against a real PostgreSQL 15 that requires a password. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServerProbeTest {
    Path dir;
    PgCluster pg;

    @BeforeAll
    void start() throws Exception {
        dir = TestDirs.create("pgwarden-probe-");
        pg = PgCluster.init(dir, "pg", 16).start();
        pg.requirePassword("probe-password");
    }

    @AfterAll
    void stop() {
        if (pg != null) pg.close();
        TestDirs.delete(dir);
    }

    ConnectionConfig connection(String password) {
        return new ConnectionConfig("127.0.0.1", pg.port(), "postgres", Optional.of(new Secret(password)), "postgres", Optional.empty());
    }

    @Test
    void detectsVersionSystemIdentifierAndTablespaces() throws Exception {
        ServerInfo info = ServerProbe.probe("main", connection("probe-password"));
        assertThat(info.major()).isEqualTo(15);
        assertThat(info.versionNum()).isBetween(150000, 159999);
        String controldata = Processes.checked(Processes.asPostgres(PgCluster.BIN.resolve("pg_controldata").toString(),
                pg.dataDir().toString()), "pg_controldata").stdout();
        String sysid = controldata.lines().filter(l -> l.startsWith("Database system identifier:")).map(l -> l.replaceAll("\\D", ""))
                .findFirst().orElseThrow();
        assertThat(Long.toUnsignedString(info.systemIdentifier().orElseThrow())).isEqualTo(sysid);
        assertThat(info.tablespaces()).isEmpty();

        Path location = TestDirs.forPostgres(dir, "ts1");
        pg.query("CREATE TABLESPACE ts1 LOCATION '" + location + "'");
        assertThat(ServerProbe.probe("main", connection("probe-password")).tablespaces()).containsExactly("ts1 (" + location + ")");
        pg.query("DROP TABLESPACE ts1");
    }

    @Test
    void aWrongPasswordIsAClearError() {
        assertThatThrownBy(() -> ServerProbe.probe("main", connection("nope"))).isInstanceOfSatisfying(PgwardenException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.TOOL);
            assertThat(e.getMessage()).startsWith("cluster 'main': cannot query PostgreSQL at postgres@127.0.0.1:" + pg.port() + "/postgres: ")
                    .contains("password authentication failed for user \"postgres\"");
        });
    }
}
