package io.pgwarden.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    private static final String TOKEN = "a-token-of-sixteen-chars";

    @TempDir
    Path dir;

    private PgwardenConfig load(String yaml) throws IOException {
        return load(yaml, Map.of());
    }

    private PgwardenConfig load(String yaml, Map<String, String> env) throws IOException {
        Path file = dir.resolve("pgwarden.yml");
        Files.writeString(file, yaml);
        return new ConfigLoader(env).read(file);
    }

    private void assertProblems(String yaml, String... problems) {
        assertProblems(yaml, Map.of(), problems);
    }

    private void assertProblems(String yaml, Map<String, String> env, String... problems) {
        assertThatThrownBy(() -> load(yaml, env)).isInstanceOfSatisfying(ConfigException.class,
                e -> assertThat(e.problems()).containsExactly(problems));
    }

    private static String minimal(String clusterBody) {
        return """
                repository: {type: filesystem, path: /var/tmp/repo}
                clusters:
                  main:
                %s
                """.formatted(clusterBody.indent(4).stripTrailing());
    }

    @Test
    void loadsAMinimalConfigWithDefaults() throws IOException {
        PgwardenConfig c = load(minimal("walToken: " + TOKEN));
        assertThat(c.server().host()).isEqualTo("127.0.0.1");
        assertThat(c.server().port()).isEqualTo(8420);
        assertThat(c.repository().compression()).isEqualTo(io.pgwarden.repository.codec.Compression.ZSTD);
        assertThat(c.repository().compressionLevel()).isEqualTo(1);
        assertThat(c.cluster("main").walToken().value()).isEqualTo(TOKEN);
        assertThat(c.cluster("main").walToken().toString()).doesNotContain(TOKEN);
    }

    @Test
    void resolvesSecretsFromEnvironmentAndFiles() throws IOException {
        Path secret = dir.resolve("s3-secret");
        Files.writeString(secret, "s3-secret-value\n");
        PgwardenConfig c = load("""
                repository:
                  type: s3
                  s3: {endpoint: "http://127.0.0.1:9000", bucket: b, prefix: /prod/, accessKey: "${env:AK}", secretKey: "${file:%s}"}
                clusters:
                  main: {walToken: "${env:TOKEN}", systemIdentifier: 7312345678901234567}
                """.formatted(secret), Map.of("AK", "access", "TOKEN", TOKEN));
        S3Config s3 = c.repository().s3().orElseThrow();
        assertThat(s3.accessKey().orElseThrow().value()).isEqualTo("access");
        assertThat(s3.secretKey().orElseThrow().value()).isEqualTo("s3-secret-value");
        assertThat(s3.prefix()).isEqualTo("prod/");
        assertThat(s3.pathStyle()).isTrue();
        assertThat(s3.downloadStreams()).isEqualTo(S3Config.DEFAULT_DOWNLOAD_STREAMS);
        assertThat(c.cluster("main").systemIdentifier().getAsLong()).isEqualTo(7312345678901234567L);
    }

    @Test
    void aMissingSecretFileNamesTheKey() {
        assertProblems(minimal("walToken: \"${file:/etc/pgwarden/main.token}\""),
                "clusters.main.walToken: file '/etc/pgwarden/main.token' does not exist");
    }

    @Test
    void aMissingEnvironmentVariableNamesTheKey() {
        assertProblems(minimal("walToken: \"${env:PGWARDEN_TOKEN}\""),
                "clusters.main.walToken: environment variable 'PGWARDEN_TOKEN' is not set");
    }

    @Test
    void aWalTokenSharedByTwoClustersOrEqualToTheAdminTokenIsRefused() {
        assertProblems("""
                server: {adminToken: %s}
                repository: {type: filesystem, path: /var/tmp/repo}
                clusters:
                  main: {walToken: %s}
                  other: {walToken: %s}
                """.formatted(TOKEN, TOKEN, TOKEN),
                "clusters.main.walToken: is the same as server.adminToken; the admin token must differ from every WAL token",
                "clusters.other.walToken: is the same as clusters.main.walToken; give each cluster its own token",
                "clusters.other.walToken: is the same as server.adminToken; the admin token must differ from every WAL token");
    }

    @Test
    void spoolDurabilityNeedsAWalSpoolDirectoryAndValidBounds() throws IOException {
        assertProblems("""
                repository: {type: filesystem, path: /var/tmp/repo}
                clusters:
                  main: {walToken: %s, archive: {durability: spool, maxBacklog: 10kB, maxBacklogAge: 0s, uploads: 0}}
                  other: {walToken: %s, archive: {durability: local}}
                """.formatted(TOKEN, TOKEN.replace('a', 'b')),
                "clusters.main.archive.maxBacklog: must be at least 1MiB",
                "clusters.main.archive.maxBacklogAge: must be at least 1s",
                "clusters.main.archive.uploads: 0 is out of range (1 to 32)",
                "clusters.other.archive.durability: must be 'repository' (a push is acknowledged once stored in the repository)"
                        + " or 'spool' (once fsynced in server.walSpoolDir, uploaded in the background)",
                "clusters.main.archive.durability: is 'spool', which needs server.walSpoolDir: a directory on local persistent disk"
                        + " (not a tmpfs or a private /tmp), where acknowledged WAL waits for its upload");
        PgwardenConfig c = load("""
                server: {walSpoolDir: %s}
                repository: {type: filesystem, path: /var/tmp/repo}
                clusters:
                  main: {walToken: %s, archive: {durability: spool, maxBacklog: 2GiB, maxBacklogAge: 30m, uploads: 4}}
                  other: {walToken: %s}
                """.formatted(dir.resolve("spool"), TOKEN, TOKEN.replace('a', 'b')));
        assertThat(c.server().walSpoolDir()).contains(dir.resolve("spool"));
        assertThat(c.cluster("main").archive()).isEqualTo(new ArchiveConfig(ArchiveConfig.Durability.SPOOL, 2L << 30,
                java.time.Duration.ofMinutes(30), 4));
        assertThat(c.cluster("other").archive()).isEqualTo(ArchiveConfig.defaults());
    }

    @Test
    void anUnknownReferenceSchemeIsAnError() {
        assertProblems(minimal("walToken: \"${vault:secret/main}\""),
                "clusters.main.walToken: unknown reference '${vault:...}' (use ${env:NAME} or ${file:PATH})");
    }

    @Test
    void unknownKeysAreErrors() {
        assertProblems(minimal("walToken: " + TOKEN + "\nwalTokne: x"),
                "clusters.main.walTokne: unknown key (allowed here: walToken, systemIdentifier, connection, runner, baseBackup, dump, schedules, restoreTest, retention, archive)");
        assertProblems("servr: {}\n" + minimal("walToken: " + TOKEN),
                "servr: unknown key (allowed here: server, repository, scheduler, clusters)");
    }

    @Test
    void aSharedSchedulerStoreIsReadAndNeedsAPostgresqlUrlAndAnInstanceName() throws IOException {
        assertThat(load(minimal("walToken: " + TOKEN)).scheduler().shared()).isFalse();
        PgwardenConfig c = load("server: {instance: backup-1}\nscheduler: {store: jdbc, url: \"jdbc:postgresql://db:5432/pgwarden\","
                + " user: pgwarden, password: \"${env:PW}\"}\n" + minimal("walToken: " + TOKEN), Map.of("PW", "s3cret"));
        assertThat(c.scheduler().jdbc()).hasValueSatisfying(j -> {
            assertThat(j.url()).isEqualTo("jdbc:postgresql://db:5432/pgwarden");
            assertThat(j.user()).isEqualTo("pgwarden");
            assertThat(j.password()).hasValueSatisfying(p -> assertThat(p.value()).isEqualTo("s3cret"));
        });
        assertProblems("scheduler: {store: jdbc, url: \"jdbc:mysql://db/x\"}\n" + minimal("walToken: " + TOKEN),
                "scheduler.url: 'jdbc:mysql://db/x' is not a PostgreSQL JDBC URL (jdbc:postgresql://HOST:PORT/DATABASE)",
                "scheduler.user: is required",
                "server.instance: is required with scheduler.store: jdbc: give each daemon sharing the store its own name");
        assertProblems("scheduler: {store: redis}\n" + minimal("walToken: " + TOKEN),
                "scheduler.store: 'redis' is not a scheduler store (memory or jdbc)");
        assertProblems("scheduler: {url: \"jdbc:postgresql://db/x\"}\n" + minimal("walToken: " + TOKEN),
                "scheduler.url: is only read with store: jdbc");
    }

    @Test
    void aMissingTokenIsAnError() {
        assertProblems(minimal("systemIdentifier: 1"), "clusters.main.walToken: is required");
    }

    @Test
    void aShortTokenIsAnError() {
        assertProblems(minimal("walToken: short"), "clusters.main.walToken: must be at least 16 characters long");
    }

    @Test
    void aBadListenAddressIsAnError() {
        assertProblems("server: {listen: localhost}\n" + minimal("walToken: " + TOKEN),
                "server.listen: 'localhost' must be HOST:PORT (e.g. 127.0.0.1:8420)");
        assertProblems("server: {listen: \"127.0.0.1:99999\"}\n" + minimal("walToken: " + TOKEN),
                "server.listen: port 99999 is out of range (0 to 65535)");
    }

    @Test
    void aBadSizeIsAnError() {
        assertProblems("server: {maxBodySize: lots}\n" + minimal("walToken: " + TOKEN),
                "server.maxBodySize: 'lots' is not a size (e.g. 16MiB, 1GiB, 1048576)");
    }

    @Test
    void aBadRepositoryTypeIsAnError() {
        assertProblems("repository: {type: ftp}\nclusters: {main: {walToken: " + TOKEN + "}}",
                "repository.type: 'ftp' is not a repository type (filesystem or s3)",
                "repository.path: is required for a filesystem repository");
    }

    @Test
    void s3NeedsABucketAndBothKeys() {
        assertProblems("""
                repository: {type: s3, s3: {endpoint: "ftp://x", accessKey: a, downloadStreams: 0}}
                clusters: {main: {walToken: %s}}
                """.formatted(TOKEN),
                "repository.s3.endpoint: 'ftp://x' must be an http:// or https:// URL with a host",
                "repository.s3.bucket: is required",
                "repository.s3.secretKey: accessKey and secretKey must be given together",
                "repository.s3.downloadStreams: 0 is out of range (1 to 16)");
    }

    @Test
    void readsObjectLockAndGarbageGraceAndNamesTheirErrors() throws IOException {
        PgwardenConfig c = load("""
                repository:
                  type: s3
                  garbageGrace: 48h
                  s3: {bucket: b, objectLock: {mode: COMPLIANCE, days: 30}}
                clusters: {main: {walToken: %s, connection: {host: h}, schedules: {verify: "0 4 * * 0"}}}
                """.formatted(TOKEN), Map.of());
        assertThat(c.repository().s3().orElseThrow().objectLock()).contains(new S3Config.ObjectLock(S3Config.ObjectLock.Mode.COMPLIANCE, 30));
        assertThat(c.repository().garbageGrace()).isEqualTo(java.time.Duration.ofHours(48));
        assertThat(c.cluster("main").schedules().verify().orElseThrow().quartz()).isEqualTo("0 0 4 ? * SUN");
        assertThat(load(minimal("walToken: " + TOKEN)).repository().garbageGrace()).isEqualTo(java.time.Duration.ofHours(24));
        assertProblems("""
                repository: {type: s3, garbageGrace: 10m, s3: {bucket: b, objectLock: {mode: strict, days: 0}}}
                clusters: {main: {walToken: %s}}
                """.formatted(TOKEN),
                "repository.s3.objectLock.mode: 'strict' is not an object lock mode (GOVERNANCE or COMPLIANCE)",
                "repository.s3.objectLock.days: 0 is out of range (1 to 36500)",
                "repository.garbageGrace: must be at least 1h (and longer than any backup takes: a shorter one could remove a backup still being written)");
        assertProblems("repository: {type: s3, s3: {bucket: b, objectLock: {}}}\nclusters: {main: {walToken: " + TOKEN + "}}",
                "repository.s3.objectLock.mode: is required (GOVERNANCE or COMPLIANCE)",
                "repository.s3.objectLock.days: is required (how many days each object stays locked)");
    }

    @Test
    void aBadCompressionOrLevelIsAnError() {
        assertProblems("repository: {type: filesystem, path: /r, compression: lz4}\nclusters: {main: {walToken: " + TOKEN + "}}",
                "repository.compression: 'lz4' is not a compression (zstd, gzip or none)");
        assertProblems("repository: {type: filesystem, path: /r, compressionLevel: 42}\nclusters: {main: {walToken: " + TOKEN + "}}",
                "repository.compressionLevel: 42 is out of range (1 to 19)");
    }

    @Test
    void noClustersIsAnError() {
        assertProblems("repository: {type: filesystem, path: /r}", "clusters: at least one cluster is required");
    }

    @Test
    void aBadClusterNameIsAnError() {
        assertProblems("repository: {type: filesystem, path: /r}\nclusters: {Main/1: {walToken: " + TOKEN + "}}",
                "clusters.Main/1: invalid cluster name (lowercase letters, digits, '-' and '_', at most 63)");
    }

    @Test
    void aBadSystemIdentifierIsAnError() {
        assertProblems(minimal("walToken: " + TOKEN + "\nsystemIdentifier: abc"),
                "clusters.main.systemIdentifier: 'abc' is not a system identifier (the number pg_controldata shows)");
    }

    @Test
    void invalidYamlIsReportedWithItsLine() {
        assertThatThrownBy(() -> load("clusters:\n  main: {walToken: [unclosed\n")).isInstanceOfSatisfying(ConfigException.class,
                e -> assertThat(e.problems()).singleElement().asString().contains("is not valid YAML (line "));
    }

    @Test
    void aMissingFileIsReported() {
        assertThatThrownBy(() -> new ConfigLoader(Map.of()).read(dir.resolve("absent.yml"))).isInstanceOfSatisfying(ConfigException.class,
                e -> assertThat(e.problems()).containsExactly("config file '" + dir.resolve("absent.yml") + "' does not exist or is not a regular file"));
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        assertProblems("server: {listen: x}\nrepository: {type: filesystem}\nclusters: {main: {walToken: short}}",
                "server.listen: 'x' must be HOST:PORT (e.g. 127.0.0.1:8420)",
                "repository.path: is required for a filesystem repository",
                "clusters.main.walToken: must be at least 16 characters long");
    }

    @Test
    void readsConnectionAndDockerRunner() throws IOException {
        ClusterConfig c = load(minimal("""
                walToken: %s
                connection: {host: 127.0.0.1, port: 5433, user: backup, password: "${env:PGPW}", sslmode: require}
                runner: {type: docker, image: "local/postgres:{major}", network: "container:postgres-server", pull: never, memory: 512MiB, cpus: 1.5}
                """.formatted(TOKEN)), Map.of("PGPW", "pw")).cluster("main");
        ConnectionConfig conn = c.connection().orElseThrow();
        assertThat(conn.describe()).isEqualTo("backup@127.0.0.1:5433/postgres");
        assertThat(conn.libpqEnvironment()).containsEntry("PGPASSWORD", new Secret("pw")).containsEntry("PGSSLMODE", new Secret("require"));
        RunnerConfig r = c.runner();
        assertThat(r.type()).isEqualTo(RunnerConfig.Type.DOCKER);
        assertThat(r.image()).isEqualTo("local/postgres:{major}");
        assertThat(r.network()).isEqualTo("container:postgres-server");
        assertThat(r.pull()).isEqualTo(RunnerConfig.Pull.NEVER);
        assertThat(r.memoryBytes()).hasValue(512L << 20);
        assertThat(r.cpus()).hasValue(1.5);
        assertThat(r.streamDir()).isEmpty(); // the attach stream
    }

    @Test
    void theDockerRunnersStreamDirectoryIsMountedAsItselfOrAsANamedVolume() throws IOException {
        String runner = "walToken: " + TOKEN + "\nrunner: {type: docker, network: host, streamDir: /var/lib/pgwarden/stream%s}";
        RunnerConfig onHost = load(minimal(runner.formatted(""))).cluster("main").runner();
        assertThat(onHost.streamDir()).hasValue("/var/lib/pgwarden/stream");
        assertThat(onHost.streamMount()).hasValue("/var/lib/pgwarden/stream");
        assertThat(load(minimal(runner.formatted(", streamMount: pgwarden-stream"))).cluster("main").runner().streamMount()).hasValue("pgwarden-stream");
        assertProblems(minimal("walToken: " + TOKEN + "\nrunner: {type: docker, network: host, streamDir: stream, streamMount: 'a b'}"),
                "clusters.main.runner.streamDir: 'stream' is not an absolute path",
                "clusters.main.runner.streamMount: needs runner.streamDir (the same directory as the daemon sees it)");
        assertProblems(minimal(runner.formatted(", streamMount: '../x'")),
                "clusters.main.runner.streamMount: '../x' is neither an absolute host path nor a volume name");
    }

    @Test
    void theRunnerDefaultsToLocalProcesses() throws IOException {
        RunnerConfig r = load(minimal("walToken: " + TOKEN)).cluster("main").runner();
        assertThat(r.type()).isEqualTo(RunnerConfig.Type.PROCESS);
        assertThat(r.binDir()).isEqualTo("/usr/lib/postgresql/{major}/bin");
    }

    @Test
    void runnerAndConnectionErrorsNameTheirKeys() {
        assertProblems(minimal("walToken: " + TOKEN + "\nrunner: {type: docker, pull: sometimes, cpus: lots, binDir: /x}"),
                "clusters.main.runner.binDir: unknown key (allowed here: type, image, network, pull, memory, cpus, dockerHost, pgHost, pgPort, streamDir, streamMount)",
                "clusters.main.runner.network: is required",
                "clusters.main.runner.pull: 'sometimes' is not a pull policy (if-absent or never)",
                "clusters.main.runner.cpus: 'lots' is not a number of CPUs (e.g. 1.5)");
        assertProblems(minimal("walToken: " + TOKEN + "\nrunner: {type: podman}"),
                "clusters.main.runner.type: 'podman' is not a runner type (docker or process)");
        assertProblems(minimal("walToken: " + TOKEN + "\nconnection: {port: 99999, sslmode: maybe}"),
                "clusters.main.connection.host: is required",
                "clusters.main.connection.port: 99999 is out of range (1 to 65535)",
                "clusters.main.connection.sslmode: 'maybe' is not an sslmode (disable, allow, prefer, require, verify-ca, verify-full)");
    }

    @Test
    void readsBaseBackupSettingsAndRejectsBadOnes() throws IOException {
        BaseBackupConfig b = load(minimal("walToken: " + TOKEN + "\nbaseBackup: {checkpoint: spread, walWait: 5m, timeout: 6h}"))
                .cluster("main").baseBackup();
        assertThat(b).isEqualTo(new BaseBackupConfig(BaseBackupConfig.Checkpoint.SPREAD, java.time.Duration.ofMinutes(5), java.time.Duration.ofHours(6), java.util.OptionalLong.empty(), false,
                BaseBackupConfig.Method.PG_BASEBACKUP, java.util.Optional.empty()));
        assertThat(load(minimal("walToken: " + TOKEN)).cluster("main").baseBackup()).isEqualTo(BaseBackupConfig.defaults());
        assertProblems(minimal("walToken: " + TOKEN + "\nbaseBackup: {checkpoint: slow, walWait: soon}"),
                "clusters.main.baseBackup.checkpoint: 'slow' is not a checkpoint mode (fast or spread)",
                "clusters.main.baseBackup.walWait: 'soon' is not a duration (e.g. 30s, 5m, 2h, 14d)");
    }

    @Test
    void readsWhereBaseBackupsAreCompressed() throws IOException {
        assertThat(BaseBackupConfig.defaults().compressOn()).isEqualTo(BaseBackupConfig.CompressOn.AUTO);
        assertThat(load(minimal("walToken: " + TOKEN + "\nbaseBackup: {compressOn: daemon}")).cluster("main").baseBackup().compressOn())
                .isEqualTo(BaseBackupConfig.CompressOn.DAEMON);
        assertThat(load(minimal("walToken: " + TOKEN + "\nbaseBackup: {compressOn: server}")).cluster("main").baseBackup().compressOn())
                .isEqualTo(BaseBackupConfig.CompressOn.SERVER);
        assertProblems(minimal("walToken: " + TOKEN + "\nbaseBackup: {compressOn: client}"),
                "clusters.main.baseBackup.compressOn: 'client' must be auto (PostgreSQL 15 and later compress, others the daemon), server"
                        + " (PostgreSQL compresses) or daemon");
        assertProblems(minimal("walToken: " + TOKEN + "\nbaseBackup: {method: files, dataDirectory: /srv/pg, compressOn: server}"),
                "clusters.main.baseBackup.compressOn: server: PostgreSQL compresses what pg_basebackup receives; with method: files the daemon"
                        + " reads the data directory and compresses it itself");
    }

    @Test
    void readsTheFilesMethodAndRejectsWhatItCannotHonour() throws IOException {
        BaseBackupConfig b = load(minimal("walToken: " + TOKEN + "\nbaseBackup: {method: files, dataDirectory: /var/lib/postgresql/15/main/}"))
                .cluster("main").baseBackup();
        assertThat(b.method()).isEqualTo(BaseBackupConfig.Method.FILES);
        assertThat(b.dataDirectory()).contains(java.nio.file.Path.of("/var/lib/postgresql/15/main"));
        assertProblems(minimal("walToken: " + TOKEN + "\nbaseBackup: {method: files}"),
                "clusters.main.baseBackup.dataDirectory: is required with method: files (the server's data directory as the daemon sees it)");
        assertProblems(minimal("walToken: " + TOKEN + "\nbaseBackup: {method: files, dataDirectory: pgdata, maxRate: 10MB}"),
                "clusters.main.baseBackup.dataDirectory: 'pgdata' must be an absolute path",
                "clusters.main.baseBackup.maxRate: limits pg_basebackup; with method: files the daemon reads the data directory at full speed");
        assertProblems(minimal("walToken: " + TOKEN + "\nbaseBackup: {method: rsync, dataDirectory: /pgdata}"),
                "clusters.main.baseBackup.method: 'rsync' is not a base backup method (pg_basebackup, or files: the daemon reads the data directory itself)",
                "clusters.main.baseBackup.dataDirectory: is read only with method: files");
        assertProblems(minimal("walToken: " + TOKEN + "\nconnection: {host: db}\nbaseBackup: {method: files, dataDirectory: /pgdata}"
                        + "\nschedules: {incremental: '0 * * * *'}"),
                "clusters.main.schedules: incremental: an incremental backup builds on pg_basebackup's backup_manifest, which"
                        + " baseBackup.method: files does not make; use method: pg_basebackup for clusters with incremental backups");
    }

    @Test
    void readsSchedulesDumpsAndTheAdminToken() throws IOException {
        PgwardenConfig c = load("""
                server: {adminToken: an-admin-token-0123, instance: db1-pgwarden}
                repository: {type: filesystem, path: /var/tmp/repo}
                clusters:
                  main:
                    walToken: %s
                    connection: {host: 127.0.0.1}
                    schedules: {base: "0 2 * * *", dump: "@daily", misfire: skip}
                    dump: {databases: [appdb, "odd name"], timeout: 2h}
                    baseBackup: {maxRate: 64MB}
                """.formatted(TOKEN));
        ClusterConfig main = c.cluster("main");
        assertThat(main.schedules().base().orElseThrow().quartz()).isEqualTo("0 0 2 * * ?");
        assertThat(main.schedules().dump().orElseThrow().quartz()).isEqualTo("0 0 0 * * ?");
        assertThat(main.schedules().misfire()).isEqualTo(SchedulesConfig.Misfire.SKIP);
        assertThat(main.dump().databases()).containsExactly("appdb", "odd name");
        assertThat(main.dump().timeout()).isEqualTo(java.time.Duration.ofHours(2));
        assertThat(main.baseBackup().maxRate()).hasValue(64L << 20);
        assertThat(c.server().adminToken().orElseThrow().value()).isEqualTo("an-admin-token-0123");
        assertThat(c.server().instance()).isEqualTo("db1-pgwarden");
        assertThat(load(minimal("walToken: " + TOKEN)).server().instance()).isEqualTo("pgwarden-8420");
    }

    @Test
    void scheduleErrorsNameTheirKeys() {
        assertProblems(minimal("walToken: " + TOKEN + "\nconnection: {host: h}\nschedules: {base: \"0 2 * *\", dump: \"61 * * * *\", misfire: later, verify: \"0 4 * *\"}"),
                "clusters.main.schedules.misfire: 'later' is not a misfire policy (run-once or skip)",
                "clusters.main.schedules.base: '0 2 * *' is not a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\")",
                "clusters.main.schedules.dump: '61 * * * *': minute field '61' is invalid (values 0-59, lists a,b, ranges a-b, steps */n)",
                "clusters.main.schedules.verify: '0 4 * *' is not a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\")");
        assertProblems(minimal("walToken: " + TOKEN + "\nschedules: {base: \"0 2 * * *\"}"),
                "clusters.main.schedules: backups need clusters.main.connection");
        assertProblems(minimal("walToken: " + TOKEN + "\ndump: {databases: []}\nbaseBackup: {maxRate: 1kB}"),
                "clusters.main.baseBackup.maxRate: must be between 32kB and 1GB (per second)",
                "clusters.main.dump.databases: must name at least one database (omit it to dump all)");
    }

    @Test
    void readsTestRestoreSettings() throws IOException {
        ClusterConfig c = load(minimal("walToken: " + TOKEN + """

                connection: {host: 127.0.0.1}
                schedules: {restoreTest: "0 5 * * 0", retention: "@daily"}
                restoreTest:
                  scratchDir: /var/tmp/scratch
                  timeout: 30m
                  checks:
                    - {database: appdb, sql: "SELECT count(*) FROM orders", expect: "20000"}
                    - {sql: "SELECT 1", expect: "1"}
                """)).cluster("main");
        assertThat(c.schedules().restoreTest().orElseThrow().quartz()).isEqualTo("0 0 5 ? * SUN");
        assertThat(c.schedules().retention().orElseThrow().quartz()).isEqualTo("0 0 0 * * ?");
        assertThat(c.restoreTest().scratchDir()).isEqualTo(Path.of("/var/tmp/scratch"));
        assertThat(c.restoreTest().timeout()).isEqualTo(java.time.Duration.ofMinutes(30));
        assertThat(c.restoreTest().checks()).containsExactly(new RestoreTestConfig.Check("appdb", "SELECT count(*) FROM orders", "20000"),
                new RestoreTestConfig.Check("postgres", "SELECT 1", "1"));
        assertProblems(minimal("walToken: " + TOKEN + "\nrestoreTest: {checks: [{sql: \"SELECT 1\", expected: \"1\"}, 42]}"),
                "clusters.main.restoreTest.checks[1]: must be a mapping of keys to values",
                "clusters.main.restoreTest.checks[0].expected: unknown key (allowed here: database, sql, expect)",
                "clusters.main.restoreTest.checks[0].expect: is required");
    }

    @Test
    void readsRetentionAndRefusesPoliciesThatKeepNothing() throws IOException {
        ClusterConfig c = load(minimal("walToken: " + TOKEN + """

                retention:
                  base: {keepLast: 7, window: 14d}
                  dump: {daily: 7, weekly: 4, monthly: 12, maxAge: 400d}
                  timeZone: Europe/Berlin
                """)).cluster("main");
        assertThat(c.retention().keepLast()).hasValue(7);
        assertThat(c.retention().window()).contains(java.time.Duration.ofDays(14));
        assertThat(c.retention().dumps()).isEqualTo(new RetentionConfig.Gfs(7, 4, 12, 0));
        assertThat(c.retention().dumpMaxAge()).contains(java.time.Duration.ofDays(400));
        assertThat(c.retention().timeZone()).isEqualTo(java.time.ZoneId.of("Europe/Berlin"));
        assertThat(load(minimal("walToken: " + TOKEN)).cluster("main").retention()).isEqualTo(RetentionConfig.keepAll());
        assertProblems(minimal("walToken: " + TOKEN + "\nretention: {base: {keepLast: 0, window: 0d}, dump: {daily: 0}, timeZone: Mars/Olympus}"),
                "clusters.main.retention.base.keepLast: 0 is out of range (1 to 100000)",
                "clusters.main.retention.base.window: must be above 0 (a window of 0 keeps nothing)",
                "clusters.main.retention.base: needs keepLast and/or window",
                "clusters.main.retention.dump: needs at least one of daily, weekly, monthly, yearly (above 0) or maxAge: as written it would keep no dump",
                "clusters.main.retention.timeZone: 'Mars/Olympus' is not a time zone (e.g. UTC, Europe/Berlin)");
    }
}
