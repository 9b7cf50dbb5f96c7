/**
 * Model download through the Hugging Face hub cache, interoperable with Python's
 * {@code huggingface_hub}: the same cache folder ({@code $HF_HUB_CACHE}, else {@code $HF_HOME/hub},
 * else {@code ~/.cache/huggingface/hub}) and layout ({@code models--org--name/{blobs,refs,snapshots}}),
 * so models downloaded by either are found by both. Pure {@code java.net.http}; downloads are
 * resumable (HTTP Range into {@code .incomplete} files), verified (sha256 against the hub's linked
 * etag for LFS files) and atomic (nothing that looks complete exists before verification).
 *
 * <p>Entry point: {@link io.github.phi3v.core.hub.HubClient} configured by a
 * {@link io.github.phi3v.core.hub.HubConfig} (defaults from the environment, which tests inject).
 */
package io.github.phi3v.core.hub;
