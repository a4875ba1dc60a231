package io.pgwarden.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * server.tls: PEM files, re-read when they change.
 * @param clientCa when present, clients must present a certificate signed by this CA (on top of their tokens)
 */
public record TlsConfig(Path certificate, Path privateKey, Optional<Path> clientCa) {
}
