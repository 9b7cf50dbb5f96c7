/**
 * The model configuration: {@link io.github.phi3v.core.config.Phi3VConfig} read from an HF
 * {@code config.json} and validated once at the boundary, so model code never reads JSON or checks
 * ranges itself. Errors are {@link io.github.phi3v.core.config.InvalidConfigException}s that name the
 * field with the expected and the found value.
 */
package io.github.phi3v.core.config;
