package io.pgwarden.archive;

/** What a WAL push did: stored a new file, or found the identical file already archived. */
public record PushResult(Outcome outcome, long rawBytes, long storedBytes) {
    public enum Outcome { CREATED, DUPLICATE }
}
