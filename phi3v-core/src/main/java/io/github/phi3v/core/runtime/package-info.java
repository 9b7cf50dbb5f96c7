/**
 * Native runtime bootstrap ({@link io.github.phi3v.core.runtime.TorchRuntime}) and the rules for
 * libtorch memory: every tensor belongs to a scope that frees it.
 */
package io.github.phi3v.core.runtime;
