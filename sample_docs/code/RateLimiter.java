package org.example.net;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * A token-bucket rate limiter keyed by client id.
 *
 * <p>Each client gets a bucket of {@code capacity} tokens that refills at a fixed rate. A request
 * is allowed when its bucket holds at least one token.
 */
public final class RateLimiter {

    /** What a caller learns about one request. */
    public record Decision(boolean allowed, long remaining, Duration retryAfter) {}

    /** Configuration errors. */
    public static class InvalidLimitException extends IllegalArgumentException {
        public InvalidLimitException(String message) {
            super(message);
        }
    }

    private interface Refill {
        double tokensFor(Duration elapsed);
    }

    private enum Policy {
        STRICT,
        BURST
    }

    private static final class Bucket {
        private double tokens;
        private long lastNanos;

        Bucket(double tokens, long lastNanos) {
            this.tokens = tokens;
            this.lastNanos = lastNanos;
        }
    }

    private final ConcurrentMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    private final long capacity;
    private final Refill refill;
    private final Clock clock;
    private final Policy policy;

    public RateLimiter(long capacity, Duration period, Clock clock) {
        if (capacity <= 0) {
            throw new InvalidLimitException("capacity must be positive: " + capacity);
        }
        if (period.isNegative() || period.isZero()) {
            throw new InvalidLimitException("period must be positive: " + period);
        }
        this.capacity = capacity;
        this.clock = Objects.requireNonNull(clock, "clock");
        double perNano = (double) capacity / period.toNanos();
        this.refill = elapsed -> elapsed.toNanos() * perNano;
        this.policy = capacity > 1 ? Policy.BURST : Policy.STRICT;
    }

    /** Tries to take one token for {@code clientId}. */
    public Decision tryAcquire(String clientId) {
        long now = clock.millis() * 1_000_000L;
        Bucket bucket = buckets.computeIfAbsent(clientId, id -> new Bucket(capacity, now));
        synchronized (bucket) {
            Duration elapsed = Duration.ofNanos(Math.max(0, now - bucket.lastNanos));
            bucket.tokens = Math.min(capacity, bucket.tokens + refill.tokensFor(elapsed));
            bucket.lastNanos = now;
            if (bucket.tokens >= 1.0) {
                bucket.tokens -= 1.0;
                return new Decision(true, (long) bucket.tokens, Duration.ZERO);
            }
            double missing = 1.0 - bucket.tokens;
            long waitNanos = (long) Math.ceil(missing / refill.tokensFor(Duration.ofNanos(1)));
            return new Decision(false, 0, Duration.ofNanos(waitNanos));
        }
    }

    /** Forgets every client; the next request of each starts with a full bucket. */
    public void reset() {
        buckets.clear();
    }

    @Override
    public String toString() {
        return "RateLimiter[capacity=" + capacity + ", policy=" + policy + ", clients="
                + buckets.size() + "]";
    }
}
