package io.pgwarden.repository;

/**
 * That an object is encrypted, and with which key: recorded in a manifest (backups, dumps) or in the object's
 * metadata (WAL). Key ids are Tink's, unsigned. No secret.
 */
public record Sealed(String algorithm, long keyId) {
}
