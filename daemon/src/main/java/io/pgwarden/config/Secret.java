package io.pgwarden.config;

/** A secret value (token, password, key). Its toString never shows the value, so it cannot leak into logs. */
public record Secret(String value) {
    @Override
    public String toString() {
        return "[secret]";
    }
}
