package io.pgwarden.repository.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ObjectCipherTest {
    private static final String KEY = "main/wal/00000001/000000010000000000000001.zst";

    @Test
    void roundTripsLargeContentUnderThePrimaryKey() throws Exception {
        ObjectCipher cipher = ObjectCipher.parse(Keysets.create());
        byte[] raw = random(3 << 20);
        byte[] sealed = encrypt(cipher, raw, KEY);
        assertThat(sealed.length).isGreaterThan(raw.length);
        assertThat(new String(sealed, java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain(new String(raw, 0, 64,
                java.nio.charset.StandardCharsets.ISO_8859_1));
        assertThat(decrypt(cipher, sealed, KEY, cipher.primaryKeyId())).isEqualTo(raw);
    }

    @Test
    void refusesAnObjectReadUnderAnotherObjectKey() throws Exception {
        ObjectCipher cipher = ObjectCipher.parse(Keysets.create());
        byte[] sealed = encrypt(cipher, random(1000), KEY);
        assertThatThrownBy(() -> decrypt(cipher, sealed, "other/wal/00000001/000000010000000000000001.zst", cipher.primaryKeyId()))
                .isInstanceOf(ObjectCipher.AuthenticationException.class).hasMessageContaining("failed authentication");
    }

    @Test
    void refusesAlteredBytesBeforeReturningAnyOfTheirSegment() throws Exception {
        ObjectCipher cipher = ObjectCipher.parse(Keysets.create());
        byte[] sealed = encrypt(cipher, random(2 << 20), KEY);
        sealed[sealed.length / 3] ^= 1; // in the first 1 MiB segment
        try (InputStream in = cipher.decrypt(new ByteArrayInputStream(sealed), KEY, cipher.primaryKeyId())) {
            assertThatThrownBy(() -> in.read(new byte[100])).isInstanceOf(ObjectCipher.AuthenticationException.class);
        }
    }

    @Test
    void oldKeysStayReadableAfterARotationAndAKeyNotHeldIsNamed() throws Exception {
        String first = Keysets.create();
        ObjectCipher before = ObjectCipher.parse(first);
        byte[] raw = random(5000);
        byte[] old = encrypt(before, raw, KEY);
        ObjectCipher after = ObjectCipher.parse(Keysets.rotate(first));
        assertThat(after.primaryKeyId()).isNotEqualTo(before.primaryKeyId());
        assertThat(after.keyIds()).contains(before.primaryKeyId());
        assertThat(decrypt(after, old, KEY, before.primaryKeyId())).isEqualTo(raw);

        ObjectCipher unrelated = ObjectCipher.parse(Keysets.create());
        assertThatThrownBy(() -> decrypt(unrelated, old, KEY, before.primaryKeyId()))
                .isInstanceOf(ObjectCipher.AuthenticationException.class)
                .hasMessageContaining("key " + Integer.toUnsignedString(before.primaryKeyId()) + ", which the configured keyset does not hold");
    }

    @Test
    void aSourceFailureStaysAnIoFailureNotAnIntegrityOne() throws Exception {
        ObjectCipher cipher = ObjectCipher.parse(Keysets.create());
        byte[] sealed = encrypt(cipher, random(3 << 20), KEY);
        InputStream failing = new InputStream() {
            int left = 1 << 20;

            @Override
            public int read() throws IOException {
                if (left-- <= 0) throw new IOException("connection reset");
                return sealed[(1 << 20) - left - 1] & 0xff;
            }
        };
        try (InputStream in = cipher.decrypt(failing, KEY, cipher.primaryKeyId())) {
            assertThatThrownBy(() -> in.readAllBytes()).isInstanceOf(IOException.class)
                    .isNotInstanceOf(ObjectCipher.AuthenticationException.class).hasMessage("connection reset");
        }
    }

    @Test
    void refusesKeysetsItCannotUse() {
        assertThatThrownBy(() -> ObjectCipher.parse("{}")).isInstanceOf(ObjectCipher.KeysetException.class).hasMessageContaining("not a Tink JSON keyset");
        assertThatThrownBy(() -> ObjectCipher.parse("not json")).isInstanceOf(ObjectCipher.KeysetException.class);
    }

    private static byte[] encrypt(ObjectCipher cipher, byte[] raw, String key) throws IOException {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        try (OutputStream out = cipher.encrypt(sink, key)) {
            out.write(raw);
        }
        return sink.toByteArray();
    }

    private static byte[] decrypt(ObjectCipher cipher, byte[] sealed, String key, int keyId) throws IOException {
        try (InputStream in = cipher.decrypt(new ByteArrayInputStream(sealed), key, keyId)) {
            return in.readAllBytes();
        }
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }
}
