package io.pgwarden.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEM certificates and private keys, as certbot, cert-manager and openssl write them, read with the JDK alone.
 * Private keys: PKCS#8 ({@code BEGIN PRIVATE KEY}) and PKCS#1 RSA ({@code BEGIN RSA PRIVATE KEY}, cert-manager's
 * default); anything else gets an error saying how to convert it.
 */
public final class PemFiles {
    private static final Pattern BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");

    private PemFiles() {
    }

    /** Thrown with a message that names the file and says what is wrong. */
    public static final class PemException extends Exception {
        PemException(String message) {
            super(message);
        }
    }

    public static List<X509Certificate> certificates(Path file) throws PemException {
        List<X509Certificate> out = new ArrayList<>();
        try {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            for (Block b : blocks(file)) {
                if (!b.type().equals("CERTIFICATE")) continue;
                out.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(b.der())));
            }
        } catch (CertificateException e) {
            throw new PemException("'" + file + "' holds a certificate that cannot be read: " + e.getMessage());
        }
        if (out.isEmpty()) throw new PemException("'" + file + "' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        return out;
    }

    public static PrivateKey privateKey(Path file) throws PemException {
        for (Block b : blocks(file)) {
            byte[] pkcs8 = switch (b.type()) {
                case "PRIVATE KEY" -> b.der();
                case "RSA PRIVATE KEY" -> Pkcs1.toPkcs8(b.der());
                case "ENCRYPTED PRIVATE KEY" -> throw new PemException("'" + file + "' holds an encrypted private key; pgwarden needs it"
                        + " unencrypted (protect the file instead): openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
                case "EC PRIVATE KEY" -> throw new PemException("'" + file + "' holds an EC key in SEC1 form; convert it to PKCS#8:"
                        + " openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
                default -> null;
            };
            if (pkcs8 == null) continue;
            for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS")) {
                try {
                    return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
                } catch (GeneralSecurityException wrongAlgorithm) {
                    // try the next
                }
            }
            throw new PemException("'" + file + "' holds a private key of an algorithm this JVM cannot read");
        }
        throw new PemException("'" + file + "' holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
    }

    /** The certificates of a CA bundle as a trust store. */
    public static KeyStore trustStore(Path file) throws PemException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            int i = 0;
            for (X509Certificate c : certificates(file)) ks.setCertificateEntry("ca-" + i++, c);
            return ks;
        } catch (GeneralSecurityException | IOException e) {
            throw new PemException("'" + file + "' cannot be made a trust store: " + e.getMessage());
        }
    }

    /** Trust managers that accept exactly the certificates of a PEM file (a CA bundle, or a server's own chain). */
    public static javax.net.ssl.TrustManager[] trustManagers(Path file) throws PemException {
        try {
            javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trustStore(file));
            return tmf.getTrustManagers();
        } catch (GeneralSecurityException e) {
            throw new PemException("'" + file + "' cannot be trusted: " + e.getMessage());
        }
    }

    /** A TLS client context that trusts exactly the certificates of a PEM file. */
    public static javax.net.ssl.SSLContext clientContext(Path file) throws PemException {
        try {
            javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
            context.init(null, trustManagers(file), null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new PemException("'" + file + "' cannot be trusted: " + e.getMessage());
        }
    }

    /** Whether the private key belongs to the certificate (a signature made with one verifies with the other). */
    public static boolean matches(PrivateKey key, X509Certificate certificate) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            default -> key.getAlgorithm();
        };
        try {
            byte[] probe = "pgwarden key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private record Block(String type, byte[] der) {
    }

    private static List<Block> blocks(Path file) throws PemException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new PemException("'" + file + "' cannot be read: " + e.getMessage());
        }
        List<Block> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            try {
                out.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2).trim())));
            } catch (IllegalArgumentException e) {
                throw new PemException("'" + file + "' holds a " + m.group(1) + " block that is not base64");
            }
        }
        return out;
    }

    /** Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo (version 0, rsaEncryption, the key as OCTET STRING). */
    private static final class Pkcs1 {
        private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
        private static final byte[] VERSION = {0x02, 0x01, 0x00};

        static byte[] toPkcs8(byte[] pkcs1) {
            byte[] octets = concat(new byte[] {0x04}, length(pkcs1.length), pkcs1);
            byte[] body = concat(VERSION, RSA_ALGORITHM, octets);
            return concat(new byte[] {0x30}, length(body.length), body);
        }

        private static byte[] length(int n) {
            if (n < 0x80) return new byte[] {(byte) n};
            if (n < 0x100) return new byte[] {(byte) 0x81, (byte) n};
            if (n < 0x10000) return new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n};
            return new byte[] {(byte) 0x83, (byte) (n >> 16), (byte) (n >> 8), (byte) n};
        }

        private static byte[] concat(byte[]... parts) {
            int total = 0;
            for (byte[] p : parts) total += p.length;
            byte[] out = new byte[total];
            int at = 0;
            for (byte[] p : parts) {
                System.arraycopy(p, 0, out, at, p.length);
                at += p.length;
            }
            return out;
        }
    }
}
