package io.pgwarden.cli;

import io.pgwarden.error.ErrorCode;
import io.pgwarden.error.PgwardenException;
import io.pgwarden.repository.codec.Keysets;
import io.pgwarden.repository.codec.ObjectCipher;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Makes and rotates the repository's keysets. Prints key ids and statuses, never key material. */
@Command(name = "keyset", description = "Create or rotate the Tink keyset that encrypts the repository (repository.encryption.keyset).",
        subcommands = {KeysetCommand.Create.class, KeysetCommand.Rotate.class})
final class KeysetCommand {

    @Command(name = "create", description = "Write a new keyset with one AES256_GCM_HKDF_1MB key to FILE (mode 0600; an existing file is never overwritten).")
    static final class Create implements Callable<Integer> {
        @Option(names = "--out", required = true, description = "the keyset file to create")
        Path out;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws GeneralSecurityException {
            String keyset = Keysets.create();
            try {
                writeNew(out, keyset);
            } catch (FileAlreadyExistsException e) {
                throw new PgwardenException(ErrorCode.USAGE, "'" + out + "' exists; a keyset is never overwritten (rotate it with"
                        + " 'pgwarden keyset rotate --keyset " + out + "')");
            } catch (IOException e) {
                throw new PgwardenException(ErrorCode.USAGE, "cannot write '" + out + "': " + e.getMessage(), e);
            }
            print(spec, "created keyset '" + out + "'", keyset);
            return 0;
        }
    }

    @Command(name = "rotate", description = "Add a new primary key to the keyset FILE; earlier keys stay, so objects written with them stay readable.")
    static final class Rotate implements Callable<Integer> {
        @Option(names = "--keyset", required = true, description = "the keyset file to rotate (rewritten atomically, mode 0600)")
        Path keysetFile;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws GeneralSecurityException {
            String rotated;
            try {
                rotated = Keysets.rotate(Files.readString(keysetFile, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new PgwardenException(ErrorCode.USAGE, "cannot read keyset '" + keysetFile + "': " + e.getMessage(), e);
            } catch (ObjectCipher.KeysetException e) {
                throw new PgwardenException(ErrorCode.USAGE, "'" + keysetFile + "' " + e.getMessage());
            }
            // Beside, then renamed over: a crash leaves the old keyset or the new one, never half of one.
            Path temp = keysetFile.resolveSibling("." + keysetFile.getFileName() + ".rotating");
            try {
                Files.deleteIfExists(temp);
                writeNew(temp, rotated);
                keepOwner(keysetFile, temp);
                Files.move(temp, keysetFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new PgwardenException(ErrorCode.USAGE, "cannot rewrite keyset '" + keysetFile + "': " + e.getMessage(), e);
            }
            print(spec, "rotated keyset '" + keysetFile + "'; restart every pgwarden that writes to the repository so new objects use the new primary key", rotated);
            return 0;
        }
    }

    /**
     * The rotated file keeps the old one's owner and group: rotating as root must not lock out a daemon (or a
     * restore_command) that runs as another user and reads the keyset.
     */
    private static void keepOwner(Path original, Path replacement) throws IOException {
        var attrs = Files.readAttributes(original, java.nio.file.attribute.PosixFileAttributes.class);
        var mine = Files.readAttributes(replacement, java.nio.file.attribute.PosixFileAttributes.class);
        if (!attrs.owner().equals(mine.owner())) Files.setOwner(replacement, attrs.owner());
        if (!attrs.group().equals(mine.group())) {
            Files.getFileAttributeView(replacement, java.nio.file.attribute.PosixFileAttributeView.class).setGroup(attrs.group());
        }
    }

    /** Creates the file with mode 0600 from the start (never world-readable for an instant) and syncs it. */
    private static void writeNew(Path file, String content) throws IOException {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE);
             OutputStream out = java.nio.channels.Channels.newOutputStream(channel)) {
            out.write(content.getBytes(StandardCharsets.UTF_8));
            out.flush();
            channel.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(file);
            throw e;
        }
    }

    private static void print(CommandSpec spec, String headline, String keyset) throws GeneralSecurityException {
        var out = spec.commandLine().getOut();
        out.println(headline);
        List<Keysets.KeyInfo> keys = Keysets.describe(keyset);
        for (Keysets.KeyInfo k : keys) {
            out.println("  key " + k.id() + "  " + ObjectCipher.ALGORITHM + "  " + k.status() + (k.primary() ? "  primary" : ""));
        }
        out.flush();
    }
}
