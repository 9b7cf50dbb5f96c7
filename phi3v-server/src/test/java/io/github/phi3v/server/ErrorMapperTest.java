package io.github.phi3v.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.github.phi3v.core.LimitExceededException;

/** Transient refusals of the core (retryable limits) become 429/503 with Retry-After; hard ones 400 without. */
class ErrorMapperTest {

    @Test
    void retryableLimitsAskToRetryLaterAndHardOnesDoNot() {
        ApiException slots = ErrorMapper.map(new LimitExceededException("maxConcurrentRequests", 9, 8, true,
                "8 requests are already running"), List.of());
        assertEquals(429, slots.status());
        assertEquals("too_many_requests", slots.code());
        assertEquals(ErrorMapper.RETRY_AFTER_SECONDS, slots.retryAfterSeconds());

        ApiException kvBusy = ErrorMapper.map(new LimitExceededException("kvCacheBytes", 900, 800, true,
                "running requests hold the budget"), List.of());
        assertEquals(503, kvBusy.status());
        assertEquals("kv_cache_full", kvBusy.code());
        assertEquals(ErrorMapper.RETRY_AFTER_SECONDS, kvBusy.retryAfterSeconds());

        ApiException kvTooBig = ErrorMapper.map(new LimitExceededException("kvCacheBytes", 900, 800, false,
                "this request alone needs more"), List.of());
        assertEquals(400, kvTooBig.status());
        assertEquals("max_tokens", kvTooBig.param());
        assertEquals("context_length_exceeded", kvTooBig.code());
        assertEquals(0, kvTooBig.retryAfterSeconds());

        ApiException images = ErrorMapper.map(new LimitExceededException("maxImagesPerPrompt", 3, 2,
                "too many images"), List.of());
        assertEquals(400, images.status());
        assertEquals(0, images.retryAfterSeconds());
        assertNull(ErrorMapper.map(new RuntimeException("unexpected"), List.of()), "an unexpected failure is a 500");
    }
}
