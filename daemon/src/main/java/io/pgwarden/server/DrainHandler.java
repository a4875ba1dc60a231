package io.pgwarden.server;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The first phase of a stop: the listener stays open and every new request is answered 503 (PostgreSQL's
 * archive_command fails and retries the file later), while requests already being handled, a WAL push halfway
 * through its body among them, run to their end. Jetty's own graceful stop closes the listener instead, so a new
 * push would see a refused connection rather than an answer.
 */
final class DrainHandler extends Handler.Wrapper {
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean draining;

    DrainHandler(Handler next) {
        super(next);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        inFlight.incrementAndGet(); // before the check: a request counted here is either refused or waited for
        if (draining) {
            inFlight.decrementAndGet();
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            return Responses.text(response, callback, 503, "pgwarden is stopping; retry later");
        }
        boolean handled;
        try {
            handled = super.handle(request, response, Callback.from(callback, inFlight::decrementAndGet));
        } catch (Throwable t) {
            inFlight.decrementAndGet();
            throw t;
        }
        if (!handled) inFlight.decrementAndGet();
        return handled;
    }

    /** Refuses new requests from now on and waits up to {@code timeout} for those in flight; false if some remain. */
    boolean drain(Duration timeout) throws InterruptedException {
        draining = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        while (inFlight.get() > 0) {
            if (System.nanoTime() > deadline) return false;
            Thread.sleep(50);
        }
        return true;
    }
}
