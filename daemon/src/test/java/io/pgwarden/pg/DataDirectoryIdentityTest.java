package io.pgwarden.pg;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataDirectoryIdentityTest {
    static final long ID = 7_412_345_678_901_234_567L;
    static final ServerInfo SERVER = new ServerInfo(150010, OptionalLong.of(ID), 16 << 20, List.of());

    @TempDir
    Path dir;

    @Test
    void theServersDirectoryPassesAnotherClustersIsRefusedNamingBothIdentifiers() throws Exception {
        Path data = dataDirectory("data", ID);
        assertThatCode(() -> DataDirectoryIdentity.check("main", data, SERVER)).doesNotThrowAnyException();
        Path other = dataDirectory("other", ID + 1);
        assertThatThrownBy(() -> DataDirectoryIdentity.check("main", other, SERVER))
                .hasMessageContaining("belongs to another cluster: its pg_control has system identifier " + (ID + 1))
                .hasMessageContaining("the server at the connection has " + ID);
    }

    @Test
    void aGlobalDirectoryThatIsALinkIsNotFollowed() throws Exception {
        Path elsewhere = dataDirectory("elsewhere", ID);
        Path data = Files.createDirectories(dir.resolve("linked"));
        Files.writeString(data.resolve("PG_VERSION"), "15\n");
        Files.createSymbolicLink(data.resolve("global"), elsewhere.resolve("global"));
        assertThatThrownBy(() -> DataDirectoryIdentity.check("main", data, SERVER)).hasMessageContaining("baseBackup.dataDirectory '" + data + "'");
    }

    /**
     * PG_VERSION is read like every other file of the directory: a link is not followed, so a database owner cannot
     * have the daemon read a file only it may read and show its first line in the error; a huge file is not read whole.
     */
    @Test
    void aPgVersionThatIsALinkIsNotFollowedAndAHugeOneIsNotReadWhole() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "hunter2\n");
        Path linked = dataDirectory("linked-version", ID);
        Files.delete(linked.resolve("PG_VERSION"));
        Files.createSymbolicLink(linked.resolve("PG_VERSION"), secret);
        assertThatThrownBy(() -> DataDirectoryIdentity.check("main", linked, SERVER))
                .hasMessageContaining("baseBackup.dataDirectory '" + linked + "'").hasMessageNotContaining("hunter2");

        Path huge = dataDirectory("huge-version", ID);
        try (var f = java.nio.channels.FileChannel.open(huge.resolve("PG_VERSION"), java.nio.file.StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap(new byte[] {'x'}), 3L << 30); // sparse: 3 GiB
        }
        assertThatThrownBy(() -> DataDirectoryIdentity.check("main", huge, SERVER))
                .isInstanceOf(io.pgwarden.error.PgwardenException.class).hasMessageContaining("PG_VERSION");
    }

    @Test
    void aDirectoryWithoutPgControlIsNamedWithItsFullPath() throws Exception {
        Path data = Files.createDirectories(dir.resolve("empty"));
        Files.writeString(data.resolve("PG_VERSION"), "15\n");
        assertThatThrownBy(() -> DataDirectoryIdentity.check("main", data, SERVER))
                .hasMessageContaining("is not a PostgreSQL data directory: '" + data.resolve("global") + "' does not exist");
    }

    private Path dataDirectory(String name, long systemIdentifier) throws Exception {
        Path data = Files.createDirectories(dir.resolve(name).resolve("global"));
        Files.write(data.resolve("pg_control"), ByteBuffer.allocate(8192).order(ByteOrder.nativeOrder()).putLong(systemIdentifier).array());
        Files.writeString(data.getParent().resolve("PG_VERSION"), "15\n");
        return data.getParent();
    }
}
