package io.github.phi3v.core;

import java.time.Duration;

/**
 * The request limits of one model, fixed by {@link Phi3VisionBuilder}; each is named after its builder
 * option, as {@link LimitExceededException#limit()} reports it.
 *
 * @param maxContext prompt + image + generated tokens of one request
 * @param maxPromptTokens prompt tokens (text + image) of one request
 * @param maxImagesPerPrompt images of one request
 * @param maxConcurrentRequests requests running at once on the model
 * @param kvCacheBytes native bytes of all KV caches together, running and pooled for reuse
 * @param kvCacheWait how long a request waits for running requests to give KV memory back
 * @param embeddingCacheBytes native bytes of cached image embeddings
 * @param maxBatchSize {@linkplain Phi3Vision#submit submitted} requests decoded together in one batched step
 */
public record Limits(int maxContext, int maxPromptTokens, int maxImagesPerPrompt, int maxConcurrentRequests,
        long kvCacheBytes, Duration kvCacheWait, long embeddingCacheBytes, int maxBatchSize) {

    /** The limits with the default {@code maxBatchSize}. */
    Limits(int maxContext, int maxPromptTokens, int maxImagesPerPrompt, int maxConcurrentRequests,
            long kvCacheBytes, Duration kvCacheWait, long embeddingCacheBytes) {
        this(maxContext, maxPromptTokens, maxImagesPerPrompt, maxConcurrentRequests, kvCacheBytes, kvCacheWait,
                embeddingCacheBytes, Phi3Vision.DEFAULT_MAX_BATCH_SIZE);
    }

    LimitExceededException tooManyImages(long found, String what) {
        return new LimitExceededException("maxImagesPerPrompt", found, maxImagesPerPrompt, what + " " + found
                + " images, but maxImagesPerPrompt is " + maxImagesPerPrompt + " (Phi3Vision.builder()"
                + ".maxImagesPerPrompt(n) raises it; a session counts every image of its conversation: clear() or a"
                + " new session starts again)");
    }

    void checkPromptTokens(long textTokens, long imageTokens) {
        long total = textTokens + imageTokens;
        if (total > maxPromptTokens) {
            throw new LimitExceededException("maxPromptTokens", total, maxPromptTokens, "the prompt has " + total
                    + " tokens (" + textTokens + " text + " + imageTokens + " image) but maxPromptTokens is "
                    + maxPromptTokens + " (" + (total - maxPromptTokens) + " too many); shorten the prompt, use"
                    + " fewer images or a smaller numCrops, or raise Phi3Vision.builder().maxPromptTokens(n) (at most"
                    + " maxContext " + maxContext + ")");
        }
    }

    void checkTaggedImageTokens(long imageTokens) {
        if (imageTokens > maxPromptTokens) {
            throw new LimitExceededException("maxPromptTokens", imageTokens, maxPromptTokens, "the image tags of the"
                    + " prompt alone cost " + imageTokens + " image tokens but maxPromptTokens is " + maxPromptTokens
                    + " (" + (imageTokens - maxPromptTokens) + " too many, text not counted); use fewer images or"
                    + " tags, a smaller numCrops, or raise Phi3Vision.builder().maxPromptTokens(n) (at most maxContext "
                    + maxContext + ")");
        }
    }
}
