package io.pgwarden.restore;

import io.pgwarden.pg.Lsn;
import java.time.Instant;

/** Where recovery stops: a time, an LSN, a named restore point, or the end of the archived WAL. */
public sealed interface RestoreTarget {
    record Time(Instant at) implements RestoreTarget {
    }

    record Position(long lsn) implements RestoreTarget {
    }

    record Name(String restorePoint) implements RestoreTarget {
    }

    record Latest() implements RestoreTarget {
    }

    default String describe() {
        return switch (this) {
            case Time t -> "time " + t.at();
            case Position p -> "LSN " + Lsn.format(p.lsn());
            case Name n -> "restore point '" + n.restorePoint() + "'";
            case Latest l -> "the end of the archived WAL";
        };
    }
}
