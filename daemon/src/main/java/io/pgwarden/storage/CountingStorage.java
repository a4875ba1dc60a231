package io.pgwarden.storage;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A driver that tells a listener of each operation before passing it on (the daemon counts them by kind in
 * pgwarden_storage_operations_total): what a WAL push or fetch costs the repository is visible, and a listing on
 * the hot path would show at once.
 */
public final class CountingStorage implements StorageDriver {
    private final StorageDriver inner;
    private final Consumer<String> listener;

    /** @param listener called with put, create, stat, get, list, delete or abort */
    public CountingStorage(StorageDriver inner, Consumer<String> listener) {
        this.inner = inner;
        this.listener = listener;
    }

    public StorageDriver inner() {
        return inner;
    }

    @Override
    public void put(String key, InputStream content, Map<String, String> metadata) {
        listener.accept("put");
        inner.put(key, content, metadata);
    }

    @Override
    public void put(String key, SizedContent content, Map<String, String> metadata) {
        listener.accept("put");
        inner.put(key, content, metadata);
    }

    @Override
    public boolean create(String key, SizedContent content, Map<String, String> metadata) {
        listener.accept("create");
        return inner.create(key, content, metadata);
    }

    @Override
    public Optional<ObjectInfo> stat(String key) {
        listener.accept("stat");
        return inner.stat(key);
    }

    @Override
    public Optional<StoredObject> get(String key) {
        listener.accept("get");
        return inner.get(key);
    }

    @Override
    public Optional<StoredObject> getWhole(String key) {
        listener.accept("get");
        return inner.getWhole(key);
    }

    @Override
    public Stream<ObjectInfo> list(String prefix) {
        listener.accept("list");
        return inner.list(prefix);
    }

    @Override
    public Stream<ObjectInfo> list(String prefix, String startAfter) {
        listener.accept("list");
        return inner.list(prefix, startAfter);
    }

    @Override
    public void delete(String key) {
        listener.accept("delete");
        inner.delete(key);
    }

    @Override
    public void deleteAll(List<String> keys) {
        listener.accept("delete");
        inner.deleteAll(keys);
    }

    @Override
    public Stream<IncompleteUpload> incompleteUploads(String prefix) {
        listener.accept("list");
        return inner.incompleteUploads(prefix);
    }

    @Override
    public void abort(IncompleteUpload upload) {
        listener.accept("abort");
        inner.abort(upload);
    }

    @Override
    public void checkReachable() {
        listener.accept("stat");
        inner.checkReachable();
    }

    @Override
    public void prepare() {
        inner.prepare();
    }

    @Override
    public String describe() {
        return inner.describe();
    }

    @Override
    public void close() {
        inner.close();
    }
}
