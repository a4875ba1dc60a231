package io.pgwarden.storage;

import java.io.InputStream;

/** One part of a multipart upload, read from the source once and held until it is sent. */
interface UploadPart {
    long length();

    /** A fresh stream over the part's bytes (the SDK opens one per attempt). */
    InputStream open();

    /** Gives back what holds the part; later calls do nothing. */
    void release();
}
