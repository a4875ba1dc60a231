package io.pgwarden.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.pgwarden.repository.codec.Compression;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * Reads the YAML configuration into immutable records. Validation collects every problem with its key path
 * and fails once at the end, so an operator fixes the whole file in one pass.
 */
public final class ConfigLoader {
    private static final Pattern CLUSTER_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final Pattern INSTANCE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    private static final int MIN_TOKEN_LENGTH = 16;

    private final Map<String, String> environment;

    public ConfigLoader(Map<String, String> environment) {
        this.environment = environment;
    }

    public static PgwardenConfig load(Path file) {
        return new ConfigLoader(System.getenv()).read(file);
    }

    public PgwardenConfig read(Path file) {
        List<String> problems = new ArrayList<>();
        JsonNode root = parseYaml(file, problems);
        if (root == null) throw new ConfigException(problems);
        ConfigNode top = new ConfigNode(root, "", problems, new Interpolator(environment));
        top.allowOnly("server", "repository", "scheduler", "clusters");
        ServerConfig server = server(top.mapping("server"));
        SchedulerConfig scheduler = scheduler(top.mapping("scheduler"));
        RepositoryConfig repository = repository(top.mapping("repository"));
        Map<String, ClusterConfig> clusters = clusters(top.mapping("clusters"));
        distinctTokens(top, server, clusters);
        spoolNeedsDirectory(top, server, clusters);
        sharedStoreNeedsInstance(top, scheduler);
        if (!problems.isEmpty()) throw new ConfigException(problems);
        return new PgwardenConfig(server, repository, scheduler, clusters);
    }

    private static JsonNode parseYaml(Path file, List<String> problems) {
        if (!Files.isRegularFile(file)) {
            problems.add("config file '" + file + "' does not exist or is not a regular file");
            return null;
        }
        try {
            JsonNode root = new YAMLMapper().readTree(file.toFile());
            if (root == null || root.isMissingNode() || !root.isObject()) {
                problems.add("config file '" + file + "' must contain a YAML mapping (server, repository, clusters)");
                return null;
            }
            return root;
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            problems.add("config file '" + file + "' is not valid YAML" + (loc == null ? "" : " (line " + loc.getLineNr() + ")")
                    + ": " + e.getOriginalMessage());
            return null;
        } catch (IOException e) {
            problems.add("config file '" + file + "' cannot be read: " + e.getMessage());
            return null;
        }
    }

    private static ServerConfig server(ConfigNode node) {
        node.allowOnly("tls", "allowPlaintext", "listen", "maxBodySize", "spoolDir", "maxConcurrentPushes", "maxConcurrentPushesPerCluster", "adminToken", "instance", "bodyIdleTimeout", "maxConnections", "walReadAhead", "walSpoolDir");
        String host = ServerConfig.DEFAULT_HOST;
        int port = ServerConfig.DEFAULT_PORT;
        Optional<String[]> listen = node.parsed("listen", ConfigLoader::hostAndPort);
        if (listen.isPresent()) {
            host = listen.get()[0];
            port = Integer.parseInt(listen.get()[1]);
        }
        long maxBody = node.parsed("maxBodySize", Units::parseSize).orElse(ServerConfig.DEFAULT_MAX_BODY);
        if (maxBody < 1024) node.problem("maxBodySize", "must be at least 1kB");
        Path spool = node.parsed("spoolDir", Path::of).orElse(Path.of(System.getProperty("java.io.tmpdir")));
        int pushes = node.integer("maxConcurrentPushes", 1, 256).orElse(ServerConfig.DEFAULT_MAX_CONCURRENT_PUSHES);
        java.util.OptionalInt perCluster = node.integer("maxConcurrentPushesPerCluster", 1, 256).map(java.util.OptionalInt::of)
                .orElse(java.util.OptionalInt.empty());
        if (perCluster.isPresent() && perCluster.getAsInt() > pushes) {
            node.problem("maxConcurrentPushesPerCluster", "is " + perCluster.getAsInt() + ", more than server.maxConcurrentPushes (" + pushes + ")");
        }
        Optional<Secret> adminToken = node.string("adminToken").map(Secret::new);
        if (adminToken.isPresent() && adminToken.get().value().length() < MIN_TOKEN_LENGTH) {
            node.problem("adminToken", "must be at least " + MIN_TOKEN_LENGTH + " characters long");
        }
        String instance = node.parsed("instance", ConfigLoader::instanceName).orElse("pgwarden-" + port);
        java.time.Duration bodyIdle = node.parsed("bodyIdleTimeout", Units::parseDuration).orElse(ServerConfig.DEFAULT_BODY_IDLE_TIMEOUT);
        if (bodyIdle.toMillis() < 100) node.problem("bodyIdleTimeout", "must be at least 100ms");
        int connections = node.integer("maxConnections", 16, 100_000).orElse(ServerConfig.DEFAULT_MAX_CONNECTIONS);
        Optional<TlsConfig> tls = tls(node.mapping("tls"));
        boolean allowPlaintext = node.bool("allowPlaintext").orElse(false);
        if (tls.isEmpty() && !allowPlaintext && !isLoopback(host)) {
            node.problem("listen", "'" + host + "' is not a loopback address, and without server.tls WAL (the database's whole change"
                    + " stream) and tokens would cross the network in clear; configure server.tls, or set server.allowPlaintext: true"
                    + " when a TLS proxy or a private network carries the traffic");
        }
        int readAhead = node.integer("walReadAhead", 0, 64).orElse(ServerConfig.DEFAULT_WAL_READ_AHEAD);
        Optional<Path> walSpool = node.parsed("walSpoolDir", p -> Path.of(p).toAbsolutePath().normalize());
        return new ServerConfig(host, port, maxBody, spool, pushes, adminToken, instance, bodyIdle, connections, tls, readAhead, walSpool,
                perCluster);
    }

    /** Literal addresses only (no name lookup while loading a config); "localhost" is loopback by definition. */
    static boolean isLoopback(String host) {
        if (host.equalsIgnoreCase("localhost")) return true;
        if (!host.matches("[0-9.]+|[0-9a-fA-F:]+")) return false;
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** The files must be readable now; their content is checked when the server starts (and by check-config). */
    private static Optional<TlsConfig> tls(ConfigNode node) {
        if (!node.isPresent()) return Optional.empty();
        node.allowOnly("certificate", "privateKey", "clientCa");
        Optional<Path> certificate = node.parsed("certificate", ConfigLoader::readableFile);
        Optional<Path> key = node.parsed("privateKey", ConfigLoader::readableFile);
        Optional<Path> clientCa = node.parsed("clientCa", ConfigLoader::readableFile);
        if (certificate.isEmpty() && !node.has("certificate")) node.problem("certificate", "is required (a PEM certificate chain)");
        if (key.isEmpty() && !node.has("privateKey")) node.problem("privateKey", "is required (a PEM private key)");
        if (certificate.isEmpty() || key.isEmpty()) return Optional.empty();
        return Optional.of(new TlsConfig(certificate.get(), key.get(), clientCa));
    }

    private static Path readableFile(String text) {
        Path p = Path.of(text);
        if (!java.nio.file.Files.isReadable(p)) throw new IllegalArgumentException("'" + text + "' is not a readable file");
        return p;
    }

    private static String instanceName(String text) {
        if (!INSTANCE_NAME.matcher(text).matches()) {
            throw new IllegalArgumentException("'" + text + "' is not an instance name (letters, digits, '.', '_', '-', at most 63)");
        }
        return text;
    }

    static String[] hostAndPort(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("'" + text + "' must be HOST:PORT (e.g. 127.0.0.1:8420)");
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' has an invalid port");
        }
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port " + port + " is out of range (0 to 65535)");
        return new String[] {host, Integer.toString(port)};
    }

    private static RepositoryConfig repository(ConfigNode node) {
        node.allowOnly("type", "path", "s3", "compression", "compressionLevel", "garbageGrace", "encryption");
        RepositoryConfig.Type type = node.parsed("type", t -> switch (t) {
            case "filesystem" -> RepositoryConfig.Type.FILESYSTEM;
            case "s3" -> RepositoryConfig.Type.S3;
            default -> throw new IllegalArgumentException("'" + t + "' is not a repository type (filesystem or s3)");
        }).orElse(RepositoryConfig.Type.FILESYSTEM);
        Optional<Path> path = node.parsed("path", Path::of);
        Optional<S3Config> s3 = Optional.empty();
        if (type == RepositoryConfig.Type.FILESYSTEM) {
            if (path.isEmpty() && !node.has("path")) node.problem("path", "is required for a filesystem repository");
            if (node.has("s3")) node.problem("s3", "is only allowed with type: s3");
        } else {
            if (node.has("path")) node.problem("path", "is only allowed with type: filesystem");
            ConfigNode s3Node = node.mapping("s3");
            if (!s3Node.isPresent()) node.problem("s3", "is required for an s3 repository");
            else s3 = Optional.ofNullable(s3(s3Node));
        }
        Compression compression = node.parsed("compression", c -> switch (c) {
            case "zstd" -> Compression.ZSTD;
            case "gzip" -> Compression.GZIP;
            case "none" -> Compression.NONE;
            default -> throw new IllegalArgumentException("'" + c + "' is not a compression (zstd, gzip or none)");
        }).orElse(Compression.ZSTD);
        int level = node.integer("compressionLevel", compression.minLevel(), compression.maxLevel()).orElse(compression.defaultLevel());
        Duration grace = node.parsed("garbageGrace", Units::parseDuration).orElse(RepositoryConfig.DEFAULT_GARBAGE_GRACE);
        if (grace.compareTo(RepositoryConfig.MIN_GARBAGE_GRACE) < 0) {
            node.problem("garbageGrace", "must be at least 1h (and longer than any backup takes: a shorter one could remove a backup"
                    + " still being written)");
        }
        return new RepositoryConfig(type, path, s3, compression, level, grace, encryption(node.mapping("encryption")));
    }

    /** The keyset's content is checked where it is used (a Tink keyset), naming this key. */
    private static Optional<EncryptionConfig> encryption(ConfigNode node) {
        if (!node.isPresent()) return Optional.empty();
        node.allowOnly("keyset");
        String keyset = node.requiredString("keyset");
        if (keyset != null && keyset.isBlank()) node.problem("keyset", "is empty (a Tink JSON keyset: make one with 'pgwarden keyset create')");
        return keyset == null || keyset.isBlank() ? Optional.empty() : Optional.of(new EncryptionConfig(new Secret(keyset)));
    }

    private static S3Config s3(ConfigNode node) {
        node.allowOnly("endpoint", "bucket", "prefix", "region", "pathStyle", "accessKey", "secretKey",
                "maxAttempts", "partSize", "requestTimeout", "objectLock", "caCertificate", "downloadStreams");
        Optional<URI> endpoint = node.parsed("endpoint", ConfigLoader::endpoint);
        String bucket = node.requiredString("bucket");
        String prefix = node.string("prefix").map(ConfigLoader::normalizePrefix).orElse("");
        String region = node.string("region").orElse("us-east-1");
        boolean pathStyle = node.bool("pathStyle").orElse(endpoint.isPresent());
        Optional<Secret> accessKey = node.string("accessKey").map(Secret::new);
        Optional<Secret> secretKey = node.string("secretKey").map(Secret::new);
        if (node.has("accessKey") != node.has("secretKey")) {
            node.problem(node.has("accessKey") ? "secretKey" : "accessKey", "accessKey and secretKey must be given together");
        }
        int maxAttempts = node.integer("maxAttempts", 1, 20).orElse(4);
        long partSize = node.parsed("partSize", Units::parseSize).orElse(S3Config.DEFAULT_PART_SIZE);
        if (partSize < S3Config.MIN_PART_SIZE) node.problem("partSize", "must be at least 5MiB (the S3 minimum part size)");
        Duration timeout = node.parsed("requestTimeout", Units::parseDuration).orElse(Duration.ofSeconds(60));
        return new S3Config(endpoint, bucket, prefix, region, pathStyle, accessKey, secretKey, maxAttempts, partSize, timeout,
                objectLock(node.mapping("objectLock")), node.parsed("caCertificate", ConfigLoader::readableFile),
                node.integer("downloadStreams", 1, 16).orElse(S3Config.DEFAULT_DOWNLOAD_STREAMS));
    }

    private static Optional<S3Config.ObjectLock> objectLock(ConfigNode node) {
        if (!node.isPresent()) return Optional.empty();
        node.allowOnly("mode", "days");
        S3Config.ObjectLock.Mode mode = node.parsed("mode", m -> switch (m) {
            case "GOVERNANCE", "governance" -> S3Config.ObjectLock.Mode.GOVERNANCE;
            case "COMPLIANCE", "compliance" -> S3Config.ObjectLock.Mode.COMPLIANCE;
            default -> throw new IllegalArgumentException("'" + m + "' is not an object lock mode (GOVERNANCE or COMPLIANCE)");
        }).orElse(null);
        if (mode == null && !node.has("mode")) node.problem("mode", "is required (GOVERNANCE or COMPLIANCE)");
        Optional<Integer> days = node.integer("days", 1, 36500);
        if (days.isEmpty() && !node.has("days")) node.problem("days", "is required (how many days each object stays locked)");
        return mode == null || days.isEmpty() ? Optional.empty() : Optional.of(new S3Config.ObjectLock(mode, days.get()));
    }

    private static URI endpoint(String text) {
        URI uri;
        try {
            uri = URI.create(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "' is not a URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
            throw new IllegalArgumentException("'" + text + "' must be an http:// or https:// URL with a host");
        }
        return uri;
    }

    private static String normalizePrefix(String prefix) {
        String p = prefix.replaceAll("^/+|/+$", "");
        return p.isEmpty() ? "" : p + "/";
    }

    /**
     * A WAL token opens one cluster's archive: shared by two clusters, a server of one could push into (and read) the
     * other's; equal to the admin token, every PostgreSQL server's archive_command could start restores.
     */
    private static void distinctTokens(ConfigNode top, ServerConfig server, Map<String, ClusterConfig> clusters) {
        Map<String, String> owners = new LinkedHashMap<>();
        clusters.forEach((name, cluster) -> {
            if (cluster == null || cluster.walToken() == null) return;
            String token = cluster.walToken().value();
            String other = owners.putIfAbsent(token, name);
            if (other != null) top.problem("clusters." + name + ".walToken", "is the same as clusters." + other + ".walToken; give each cluster its own token");
            if (server != null && server.adminToken().isPresent() && server.adminToken().get().value().equals(token)) {
                top.problem("clusters." + name + ".walToken", "is the same as server.adminToken; the admin token must differ from every WAL token");
            }
        });
    }

    /** A spool is only as durable as its disk: the default temporary directory is not one, so it is never assumed. */
    private static void spoolNeedsDirectory(ConfigNode top, ServerConfig server, Map<String, ClusterConfig> clusters) {
        if (server == null || server.walSpoolDir().isPresent()) return;
        clusters.forEach((name, cluster) -> {
            if (cluster != null && cluster.archive().spooled()) {
                top.problem("clusters." + name + ".archive.durability", "is 'spool', which needs server.walSpoolDir: a directory on"
                        + " local persistent disk (not a tmpfs or a private /tmp), where acknowledged WAL waits for its upload");
            }
        });
    }

    private static SchedulerConfig scheduler(ConfigNode node) {
        if (!node.isPresent()) return SchedulerConfig.IN_MEMORY;
        node.allowOnly("store", "url", "user", "password");
        String store = node.string("store").orElse("memory");
        switch (store) {
            case "memory" -> {
                for (String key : List.of("url", "user", "password")) {
                    if (node.has(key)) node.problem(key, "is only read with store: jdbc");
                }
                return SchedulerConfig.IN_MEMORY;
            }
            case "jdbc" -> {
                String url = node.requiredString("url");
                if (url != null && !url.startsWith("jdbc:postgresql://")) {
                    node.problem("url", "'" + url + "' is not a PostgreSQL JDBC URL (jdbc:postgresql://HOST:PORT/DATABASE)");
                }
                String user = node.requiredString("user");
                Optional<Secret> password = node.string("password").map(Secret::new);
                return new SchedulerConfig(Optional.of(new SchedulerConfig.JdbcStore(url, user, password)));
            }
            default -> {
                node.problem("store", "'" + store + "' is not a scheduler store (memory or jdbc)");
                return SchedulerConfig.IN_MEMORY;
            }
        }
    }

    /** Daemons sharing a store tell their runs apart by instance; the default (from the port) is the same on every host. */
    private static void sharedStoreNeedsInstance(ConfigNode top, SchedulerConfig scheduler) {
        if (scheduler.shared() && !top.mapping("server").has("instance")) {
            top.problem("server.instance", "is required with scheduler.store: jdbc: give each daemon sharing the store its own name");
        }
    }

    private static Map<String, ClusterConfig> clusters(ConfigNode node) {
        Map<String, ClusterConfig> clusters = new LinkedHashMap<>();
        if (!node.isPresent()) {
            node.problem("at least one cluster is required");
            return clusters;
        }
        node.entries().forEach((name, c) -> {
            if (!CLUSTER_NAME.matcher(name).matches()) {
                node.problem(name, "invalid cluster name (lowercase letters, digits, '-' and '_', at most 63)");
            }
            clusters.put(name, cluster(name, c));
        });
        return clusters;
    }

    private static ClusterConfig cluster(String name, ConfigNode node) {
        node.allowOnly("walToken", "systemIdentifier", "connection", "runner", "baseBackup", "dump", "schedules", "restoreTest", "retention", "archive");
        String token = node.requiredString("walToken");
        if (token != null && token.length() < MIN_TOKEN_LENGTH) {
            node.problem("walToken", "must be at least " + MIN_TOKEN_LENGTH + " characters long");
        }
        OptionalLong sysid = node.parsed("systemIdentifier", ConfigLoader::systemIdentifier)
                .map(OptionalLong::of).orElse(OptionalLong.empty());
        ConfigNode conn = node.mapping("connection");
        Optional<ConnectionConfig> connection = conn.isPresent() ? Optional.of(connection(conn)) : Optional.empty();
        ConfigNode runnerNode = node.mapping("runner");
        RunnerConfig runner = runnerNode.isPresent() ? runner(runnerNode) : RunnerConfig.defaultProcess();
        ConfigNode base = node.mapping("baseBackup");
        ConfigNode dump = node.mapping("dump");
        SchedulesConfig schedules = schedules(node.mapping("schedules"));
        if (connection.isEmpty() && (schedules.base().isPresent() || schedules.incremental().isPresent() || schedules.dump().isPresent())) {
            node.problem("schedules", "backups need clusters." + name + ".connection");
        }
        BaseBackupConfig baseBackup = base.isPresent() ? baseBackup(base) : BaseBackupConfig.defaults();
        if (baseBackup.method() == BaseBackupConfig.Method.FILES && schedules.incremental().isPresent()) {
            node.problem("schedules", "incremental: an incremental backup builds on pg_basebackup's backup_manifest, which baseBackup.method:"
                    + " files does not make; use method: pg_basebackup for clusters with incremental backups");
        }
        return new ClusterConfig(name, token == null ? null : new Secret(token), sysid, connection, runner,
                baseBackup, dump.isPresent() ? dump(dump) : DumpConfig.defaults(),
                schedules, restoreTest(node.mapping("restoreTest")), retention(node.mapping("retention")), archive(node.mapping("archive")));
    }

    private static ArchiveConfig archive(ConfigNode node) {
        ArchiveConfig d = ArchiveConfig.defaults();
        if (!node.isPresent()) return d;
        node.allowOnly("durability", "maxBacklog", "maxBacklogAge", "uploads");
        ArchiveConfig.Durability durability = node.parsed("durability", v -> switch (v) {
            case "repository" -> ArchiveConfig.Durability.REPOSITORY;
            case "spool" -> ArchiveConfig.Durability.SPOOL;
            default -> throw new IllegalArgumentException("must be 'repository' (a push is acknowledged once stored in the repository)"
                    + " or 'spool' (once fsynced in server.walSpoolDir, uploaded in the background)");
        }).orElse(d.durability());
        long maxBytes = node.parsed("maxBacklog", Units::parseSize).orElse(d.maxBacklogBytes());
        if (maxBytes < (1L << 20)) node.problem("maxBacklog", "must be at least 1MiB");
        Duration maxAge = node.parsed("maxBacklogAge", Units::parseDuration).orElse(d.maxBacklogAge());
        if (maxAge.toMillis() < 1000) node.problem("maxBacklogAge", "must be at least 1s");
        int uploads = node.integer("uploads", 1, 32).orElse(d.uploads());
        return new ArchiveConfig(durability, maxBytes, maxAge, uploads);
    }

    /** Every rule must keep something: a count of 0 or a window of 0 would delete every backup it governs. */
    private static RetentionConfig retention(ConfigNode node) {
        RetentionConfig d = RetentionConfig.keepAll();
        if (!node.isPresent()) return d;
        node.allowOnly("base", "dump", "timeZone");
        ConfigNode base = node.mapping("base");
        base.allowOnly("keepLast", "window");
        ConfigNode dump = node.mapping("dump");
        dump.allowOnly("daily", "weekly", "monthly", "yearly", "maxAge");
        OptionalInt keepLast = base.integer("keepLast", 1, 100_000).map(OptionalInt::of).orElse(OptionalInt.empty());
        Optional<java.time.Duration> window = positive(base, "window");
        if (base.isPresent() && keepLast.isEmpty() && window.isEmpty()) base.problem("needs keepLast and/or window");
        var gfs = new RetentionConfig.Gfs(dump.integer("daily", 0, 100_000).orElse(0), dump.integer("weekly", 0, 100_000).orElse(0),
                dump.integer("monthly", 0, 100_000).orElse(0), dump.integer("yearly", 0, 100_000).orElse(0));
        Optional<java.time.Duration> maxAge = positive(dump, "maxAge");
        if (dump.isPresent() && !gfs.any() && maxAge.isEmpty()) {
            dump.problem("needs at least one of daily, weekly, monthly, yearly (above 0) or maxAge: as written it would keep no dump");
        }
        java.time.ZoneId zone = node.parsed("timeZone", z -> {
            try {
                return java.time.ZoneId.of(z);
            } catch (java.time.DateTimeException e) {
                throw new IllegalArgumentException("'" + z + "' is not a time zone (e.g. UTC, Europe/Berlin)");
            }
        }).orElse(d.timeZone());
        return new RetentionConfig(keepLast, window, gfs, maxAge, zone);
    }

    private static Optional<java.time.Duration> positive(ConfigNode node, String key) {
        Optional<java.time.Duration> value = node.parsed(key, Units::parseDuration);
        if (value.isPresent() && value.get().isZero()) {
            node.problem(key, "must be above 0 (a window of 0 keeps nothing)");
            return Optional.empty();
        }
        return value;
    }

    private static RestoreTestConfig restoreTest(ConfigNode node) {
        RestoreTestConfig d = RestoreTestConfig.defaults();
        if (!node.isPresent()) return d;
        node.allowOnly("scratchDir", "timeout", "checks", "dumps");
        List<RestoreTestConfig.Check> checks = new ArrayList<>();
        node.mappingList("checks").forEach(c -> {
            c.allowOnly("database", "sql", "expect");
            String sql = c.requiredString("sql");
            String expect = c.requiredString("expect");
            if (sql != null && expect != null) checks.add(new RestoreTestConfig.Check(c.string("database").orElse("postgres"), sql, expect));
        });
        return new RestoreTestConfig(node.parsed("scratchDir", Path::of).orElse(d.scratchDir()),
                node.parsed("timeout", Units::parseDuration).orElse(d.timeout()), checks, node.bool("dumps").orElse(false));
    }

    private static SchedulesConfig schedules(ConfigNode node) {
        if (!node.isPresent()) return SchedulesConfig.none();
        node.allowOnly("base", "incremental", "dump", "misfire", "retention", "restoreTest", "verify");
        SchedulesConfig.Misfire misfire = node.parsed("misfire", m -> switch (m) {
            case "run-once" -> SchedulesConfig.Misfire.RUN_ONCE;
            case "skip" -> SchedulesConfig.Misfire.SKIP;
            default -> throw new IllegalArgumentException("'" + m + "' is not a misfire policy (run-once or skip)");
        }).orElse(SchedulesConfig.Misfire.RUN_ONCE);
        return new SchedulesConfig(node.parsed("base", CronSchedule::parse), node.parsed("incremental", CronSchedule::parse),
                node.parsed("dump", CronSchedule::parse),
                node.parsed("restoreTest", CronSchedule::parse), node.parsed("retention", CronSchedule::parse),
                node.parsed("verify", CronSchedule::parse), misfire);
    }

    private static DumpConfig dump(ConfigNode node) {
        node.allowOnly("databases", "timeout");
        List<String> databases = node.stringList("databases").orElse(List.of());
        if (node.has("databases") && databases.isEmpty()) node.problem("databases", "must name at least one database (omit it to dump all)");
        if (databases.stream().anyMatch(String::isEmpty)) node.problem("databases", "must not contain an empty name");
        return new DumpConfig(databases, node.parsed("timeout", Units::parseDuration).orElse(DumpConfig.defaults().timeout()));
    }

    private static BaseBackupConfig baseBackup(ConfigNode node) {
        node.allowOnly("checkpoint", "walWait", "timeout", "maxRate", "incrementalFallback", "method", "dataDirectory", "compressOn");
        BaseBackupConfig d = BaseBackupConfig.defaults();
        BaseBackupConfig.Checkpoint checkpoint = node.parsed("checkpoint", c -> switch (c) {
            case "fast" -> BaseBackupConfig.Checkpoint.FAST;
            case "spread" -> BaseBackupConfig.Checkpoint.SPREAD;
            default -> throw new IllegalArgumentException("'" + c + "' is not a checkpoint mode (fast or spread)");
        }).orElse(d.checkpoint());
        java.util.OptionalLong maxRate = node.parsed("maxRate", Units::parseSize).map(java.util.OptionalLong::of).orElse(java.util.OptionalLong.empty());
        // pg_basebackup -r accepts 32 kB/s to 1 GB/s.
        if (maxRate.isPresent() && (maxRate.getAsLong() < 32 << 10 || maxRate.getAsLong() > 1L << 30)) {
            node.problem("maxRate", "must be between 32kB and 1GB (per second)");
        }
        boolean fallback = node.parsed("incrementalFallback", f -> switch (f) {
            case "fail" -> false;
            case "full" -> true;
            default -> throw new IllegalArgumentException("'" + f + "' must be 'fail' (an incremental backup without a usable parent fails)"
                    + " or 'full' (it is taken as a full backup instead)");
        }).orElse(d.incrementalFallback());
        BaseBackupConfig.Method method = node.parsed("method", m -> switch (m) {
            case "pg_basebackup" -> BaseBackupConfig.Method.PG_BASEBACKUP;
            case "files" -> BaseBackupConfig.Method.FILES;
            default -> throw new IllegalArgumentException("'" + m + "' is not a base backup method (pg_basebackup, or files: the daemon"
                    + " reads the data directory itself)");
        }).orElse(d.method());
        Optional<Path> dataDirectory = node.parsed("dataDirectory", p -> {
            if (!Path.of(p).isAbsolute()) throw new IllegalArgumentException("'" + p + "' must be an absolute path");
            return Path.of(p).normalize();
        });
        if (method == BaseBackupConfig.Method.FILES && dataDirectory.isEmpty() && !node.has("dataDirectory")) {
            node.problem("dataDirectory", "is required with method: files (the server's data directory as the daemon sees it)");
        }
        if (method != BaseBackupConfig.Method.FILES && dataDirectory.isPresent()) {
            node.problem("dataDirectory", "is read only with method: files");
        }
        if (method == BaseBackupConfig.Method.FILES && maxRate.isPresent()) {
            node.problem("maxRate", "limits pg_basebackup; with method: files the daemon reads the data directory at full speed");
        }
        BaseBackupConfig.CompressOn compressOn = node.parsed("compressOn", c -> switch (c) {
            case "auto" -> BaseBackupConfig.CompressOn.AUTO;
            case "server" -> BaseBackupConfig.CompressOn.SERVER;
            case "daemon" -> BaseBackupConfig.CompressOn.DAEMON;
            default -> throw new IllegalArgumentException("'" + c + "' must be auto (PostgreSQL 15 and later compress, others the daemon),"
                    + " server (PostgreSQL compresses) or daemon");
        }).orElse(d.compressOn());
        if (method == BaseBackupConfig.Method.FILES && compressOn == BaseBackupConfig.CompressOn.SERVER) {
            node.problem("compressOn", "server: PostgreSQL compresses what pg_basebackup receives; with method: files the daemon reads the data"
                    + " directory and compresses it itself");
        }
        return new BaseBackupConfig(checkpoint, node.parsed("walWait", Units::parseDuration).orElse(d.walWait()),
                node.parsed("timeout", Units::parseDuration).orElse(d.timeout()), maxRate, fallback, method, dataDirectory, compressOn);
    }

    private static ConnectionConfig connection(ConfigNode node) {
        node.allowOnly("host", "port", "user", "password", "database", "sslmode");
        String host = node.requiredString("host");
        int port = node.integer("port", 1, 65535).orElse(ConnectionConfig.DEFAULT_PORT);
        String user = node.string("user").orElse("postgres");
        Optional<Secret> password = node.string("password").map(Secret::new);
        String database = node.string("database").orElse("postgres");
        Optional<String> sslmode = node.parsed("sslmode", m -> switch (m) {
            case "disable", "allow", "prefer", "require", "verify-ca", "verify-full" -> m;
            default -> throw new IllegalArgumentException("'" + m + "' is not an sslmode (disable, allow, prefer, require, verify-ca, verify-full)");
        });
        return new ConnectionConfig(host, port, user, password, database, sslmode);
    }

    private static RunnerConfig runner(ConfigNode node) {
        RunnerConfig.Type type = node.parsed("type", t -> switch (t) {
            case "docker" -> RunnerConfig.Type.DOCKER;
            case "process" -> RunnerConfig.Type.PROCESS;
            default -> throw new IllegalArgumentException("'" + t + "' is not a runner type (docker or process)");
        }).orElse(RunnerConfig.Type.PROCESS);
        RunnerConfig defaults = RunnerConfig.defaultProcess();
        if (type == RunnerConfig.Type.PROCESS) {
            node.allowOnly("type", "binDir", "pgHost", "pgPort");
            return new RunnerConfig(type, defaults.image(), defaults.network(), defaults.pull(), Optional.empty(), Optional.empty(),
                    Optional.empty(), node.string("binDir").orElse(RunnerConfig.DEFAULT_BIN_DIR), node.string("pgHost"),
                    node.integer("pgPort", 1, 65535), Optional.empty(), Optional.empty());
        }
        node.allowOnly("type", "image", "network", "pull", "memory", "cpus", "dockerHost", "pgHost", "pgPort", "streamDir", "streamMount");
        Optional<String> streamDir = node.parsed("streamDir", d -> {
            if (!d.startsWith("/")) throw new IllegalArgumentException("'" + d + "' is not an absolute path");
            return d;
        });
        Optional<String> streamMount = node.parsed("streamMount", m -> {
            if (streamDir.isEmpty()) throw new IllegalArgumentException("needs runner.streamDir (the same directory as the daemon sees it)");
            if (!m.startsWith("/") && !m.matches("[A-Za-z0-9][A-Za-z0-9_.-]*")) {
                throw new IllegalArgumentException("'" + m + "' is neither an absolute host path nor a volume name");
            }
            return m;
        });
        String network = node.requiredString("network");
        RunnerConfig.Pull pull = node.parsed("pull", p -> switch (p) {
            case "if-absent" -> RunnerConfig.Pull.IF_ABSENT;
            case "never" -> RunnerConfig.Pull.NEVER;
            default -> throw new IllegalArgumentException("'" + p + "' is not a pull policy (if-absent or never)");
        }).orElse(RunnerConfig.Pull.IF_ABSENT);
        Optional<Double> cpus = node.parsed("cpus", c -> {
            try {
                double v = Double.parseDouble(c);
                if (v <= 0 || v > 1024) throw new IllegalArgumentException(c + " is out of range (more than 0, at most 1024)");
                return v;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + c + "' is not a number of CPUs (e.g. 1.5)");
            }
        });
        return new RunnerConfig(type, node.string("image").orElse(RunnerConfig.DEFAULT_IMAGE), network, pull,
                node.parsed("memory", Units::parseSize), cpus, node.string("dockerHost"), RunnerConfig.DEFAULT_BIN_DIR,
                node.string("pgHost"), node.integer("pgPort", 1, 65535), streamDir, streamMount);
    }

    private static long systemIdentifier(String text) {
        try {
            return Long.parseUnsignedLong(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a system identifier (the number pg_controldata shows)");
        }
    }
}
