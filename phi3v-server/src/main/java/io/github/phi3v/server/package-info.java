/**
 * An OpenAI-compatible HTTP server for Phi-3-Vision: {@link io.github.phi3v.server.Phi3vServer} (embed it)
 * and {@link io.github.phi3v.server.ServerMain} (run it). See {@code docs/server.md}.
 */
package io.github.phi3v.server;
