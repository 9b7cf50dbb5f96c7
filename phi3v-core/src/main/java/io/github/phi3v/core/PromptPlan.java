package io.github.phi3v.core;

import java.util.List;

import io.github.phi3v.core.model.PlaceholderRuns;
import io.github.phi3v.image.RgbImage;

/**
 * One request, validated and tokenized once at the boundary ({@link PromptPlanner}) and only read after
 * that: the prompt ids with image placeholders, the decoded images with the crop budget and token count
 * each was planned with, and the placeholder runs.
 *
 * @param ids prompt ids; image {@code k} (1-based) is a block of {@code -k}; never modified
 * @param images the images in prompt order (image {@code k} is element {@code k-1})
 * @param runs where the placeholders are, and how many ids are text
 */
record PromptPlan(int[] ids, List<PlannedImage> images, PlaceholderRuns runs) {

    /**
     * An image of the plan.
     *
     * @param image decoded pixels
     * @param key content hash and crop budget: equal keys give equal embeddings
     * @param tokens placeholder tokens the image occupies
     */
    record PlannedImage(RgbImage image, ImageKey key, int tokens) {
    }

    /**
     * Identity of an image's embeddings: same pixels and crop budget, same embeddings.
     *
     * @param sha256 SHA-256 of the decoded pixels and size
     * @param numCrops the crop budget
     */
    record ImageKey(String sha256, int numCrops) {
    }

    /** The keys of the images, in order (what a cached prefix's placeholders stand for). */
    List<ImageKey> imageKeys() {
        return images.stream().map(PlannedImage::key).toList();
    }
}
