package io.pgwarden.it.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgwarden.it.support.Launcher;
import io.pgwarden.it.support.Processes;
import io.pgwarden.it.support.TestDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The systemd files as systemd itself reads them: the unit passes systemd-analyze verify (with ExecStart pointing at
 * the built distribution), and the sysusers and tmpfiles entries, installed into an alternate root, create the
 * pgwarden user and its directories with the intended owners and modes. (The signal behaviour the unit relies on is
 * tested on the real process in SignalsTest: this machine runs no systemd as PID 1.)
 */
class SystemdUnitTest {
    static final Path SYSTEMD = ObservabilityTest.REPO_ROOT.resolve("systemd");

    Path dir;

    @BeforeEach
    void create() {
        dir = TestDirs.create("pgwarden-systemd-");
    }

    @AfterEach
    void delete() {
        TestDirs.delete(dir);
    }

    @Test
    void theUnitPassesSystemdAnalyzeVerify() throws Exception {
        String unit = Files.readString(SYSTEMD.resolve("pgwarden.service"));
        assertThat(unit).contains("ExecStart=/opt/pgwarden/bin/pgwarden run --config /etc/pgwarden/pgwarden.yml", "User=pgwarden",
                "Restart=on-failure", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
                "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "RestrictAddressFamilies=", "MemoryMax=",
                "EnvironmentFile=-/etc/pgwarden/pgwarden.env", "TimeoutStopSec=");
        Path copy = dir.resolve("pgwarden.service");
        Files.writeString(copy, unit.replace("/opt/pgwarden", Launcher.home().toString()));
        var r = Processes.run(List.of("systemd-analyze", "verify", "--man=no", copy.toString()), dir);
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
        assertThat(r.stdout() + r.stderr()).as("systemd-analyze has no complaint").isBlank();
    }

    @Test
    void sysusersAndTmpfilesCreateTheUserAndItsDirectories() throws Exception {
        Path root = dir.resolve("root");
        Files.createDirectories(root.resolve("etc"));
        Files.copy(SYSTEMD.resolve("pgwarden.sysusers"), Files.createDirectories(root.resolve("usr/lib/sysusers.d")).resolve("pgwarden.conf"));
        Files.copy(SYSTEMD.resolve("pgwarden.tmpfiles"), Files.createDirectories(root.resolve("usr/lib/tmpfiles.d")).resolve("pgwarden.conf"));
        var users = Processes.run(List.of("systemd-sysusers", "--root=" + root), dir);
        assertThat(users.exitCode()).as(users.stderr()).isZero();
        String passwd = Files.readString(root.resolve("etc/passwd"));
        assertThat(passwd).containsPattern("(?m)^pgwarden:x:\\d+:\\d+:pgwarden backup daemon:/var/lib/pgwarden:/usr/sbin/nologin$");
        String[] fields = passwd.lines().filter(l -> l.startsWith("pgwarden:")).findFirst().orElseThrow().split(":");
        int uid = Integer.parseInt(fields[2]);
        int gid = Integer.parseInt(fields[3]);
        var dirs = Processes.run(List.of("systemd-tmpfiles", "--root=" + root, "--create"), dir);
        assertThat(dirs.exitCode()).as(dirs.stderr()).isZero();
        for (var expected : Map.of("etc/pgwarden", List.of(0, gid), "var/lib/pgwarden", List.of(uid, gid),
                "var/lib/pgwarden/repo", List.of(uid, gid), "var/lib/pgwarden/spool", List.of(uid, gid)).entrySet()) {
            Path p = root.resolve(expected.getKey());
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p))).as(expected.getKey()).isEqualTo("rwxr-x---");
            assertThat(List.of((Integer) Files.getAttribute(p, "unix:uid"), (Integer) Files.getAttribute(p, "unix:gid")))
                    .as(expected.getKey() + " owner").isEqualTo(expected.getValue());
        }
    }
}
