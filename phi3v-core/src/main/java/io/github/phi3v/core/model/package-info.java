/**
 * The Phi-3-V model on libtorch: {@link io.github.phi3v.core.model.Phi3VModel} (load, encode images,
 * forward over a {@link io.github.phi3v.core.model.KvCache}, inspect), one class per part of the
 * official {@code Phi3VForCausalLM}, and {@link io.github.phi3v.core.model.WeightNames}, the single
 * checkpoint-name table. See docs/architecture.md ("Core model") and docs/longrope.md.
 */
package io.github.phi3v.core.model;
