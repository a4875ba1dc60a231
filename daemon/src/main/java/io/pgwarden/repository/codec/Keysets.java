package io.pgwarden.repository.codec;

import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeyStatus;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.streamingaead.PredefinedStreamingAeadParameters;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;

/** Making and rotating keysets of AES256_GCM_HKDF_1MB keys; what is reported about them never includes key material. */
public final class Keysets {
    static {
        ObjectCipher.register();
    }

    private Keysets() {
    }

    /** @param id unsigned key id, as Tink and pgwarden print it */
    public record KeyInfo(String id, String status, boolean primary) {
    }

    /** A keyset with one new primary key, as Tink JSON. */
    public static String create() throws GeneralSecurityException {
        return TinkJsonProtoKeysetFormat.serializeKeyset(KeysetHandle.generateNew(PredefinedStreamingAeadParameters.AES256_GCM_HKDF_1MB),
                InsecureSecretKeyAccess.get());
    }

    /** The keyset with a new key added as primary; every earlier key stays (enabled), so older objects stay readable. */
    public static String rotate(String keysetJson) throws ObjectCipher.KeysetException, GeneralSecurityException {
        ObjectCipher.parse(keysetJson); // refuses a keyset pgwarden could not use before changing it
        KeysetHandle.Builder builder = KeysetHandle.newBuilder(TinkJsonProtoKeysetFormat.parseKeyset(keysetJson, InsecureSecretKeyAccess.get()));
        builder.addEntry(KeysetHandle.generateEntryFromParameters(PredefinedStreamingAeadParameters.AES256_GCM_HKDF_1MB).withRandomId().makePrimary());
        return TinkJsonProtoKeysetFormat.serializeKeyset(builder.build(), InsecureSecretKeyAccess.get());
    }

    public static List<KeyInfo> describe(String keysetJson) throws GeneralSecurityException {
        KeysetHandle handle = TinkJsonProtoKeysetFormat.parseKeyset(keysetJson, InsecureSecretKeyAccess.get());
        List<KeyInfo> keys = new ArrayList<>();
        for (int i = 0; i < handle.size(); i++) {
            KeysetHandle.Entry e = handle.getAt(i);
            String status = e.getStatus() == KeyStatus.ENABLED ? "enabled" : e.getStatus() == KeyStatus.DISABLED ? "disabled" : "destroyed";
            keys.add(new KeyInfo(Integer.toUnsignedString(e.getId()), status, e.isPrimary()));
        }
        return keys;
    }
}
