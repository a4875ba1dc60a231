package io.pgwarden.config;

/** repository.encryption: the Tink JSON keyset (usually {@code ${file:...}}) every new object is encrypted with. */
public record EncryptionConfig(Secret keyset) {
}
