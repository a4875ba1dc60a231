package io.pgwarden.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SortedDirectoryTest {
    @TempDir
    Path dir;

    /** Many more entries than the window, created in random order: every visible one once, in name order. */
    @Test
    void listsEveryVisibleEntryOnceInNameOrderAcrossManyPasses() throws Exception {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 1000; i++) names.add("00000001%016X".formatted(i * 7919L % 100_003));
        java.util.Collections.shuffle(names, new Random(42));
        for (String n : names) {
            Files.createFile(dir.resolve(n));
            Files.createFile(dir.resolve("." + n + ".meta"));
        }
        List<String> listed = names(new SortedDirectory(dir, 64));
        assertThat(listed).hasSize(1000).isSorted().doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(names);
    }

    /** A window filled exactly by the last pass, and one that never fills: both end. */
    @Test
    void endsWhenTheLastPassFillsTheWindowExactlyOrTheDirectoryIsEmpty() throws Exception {
        assertThat(names(new SortedDirectory(dir, 4))).isEmpty();
        for (String n : List.of("d", "b", "h", "f", "a", "c", "g", "e")) Files.createDirectory(dir.resolve(n));
        assertThat(names(new SortedDirectory(dir, 4))).containsExactly("a", "b", "c", "d", "e", "f", "g", "h");
        assertThat(names(new SortedDirectory(dir, 100))).containsExactly("a", "b", "c", "d", "e", "f", "g", "h");
        assertThat(names(new SortedDirectory(dir.resolve("missing"), 4))).isEmpty();
    }

    /**
     * From a floor on: the names after it, in windows too; a name that begins the floor, or is it, is kept (a
     * subdirectory "c" holds keys "c/..." that sort after "c.x"; the storage drops a file equal to the floor).
     */
    @Test
    void fromAFloorOnHoldsTheNamesAfterItAndThoseThatBeginIt() throws Exception {
        for (String n : List.of("d", "b", "h", "f", "a", "c", "g", "e", "c.x", "c.y")) Files.createFile(dir.resolve(n));
        assertThat(names(new SortedDirectory(dir, 3, "c.x"))).containsExactly("c", "c.x", "c.y", "d", "e", "f", "g", "h");
        assertThat(names(new SortedDirectory(dir, 100, "e"))).containsExactly("e", "f", "g", "h");
        assertThat(names(new SortedDirectory(dir, 2, "dz"))).containsExactly("d", "e", "f", "g", "h");
        assertThat(names(new SortedDirectory(dir, 2, "i"))).isEmpty();
    }

    private static List<String> names(SortedDirectory entries) {
        List<String> out = new ArrayList<>();
        entries.forEachRemaining(p -> out.add(p.getFileName().toString()));
        return out;
    }
}
