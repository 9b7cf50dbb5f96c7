/**
 * Spring AI adapter for Phi-3-Vision: {@link io.github.phi3v.springai.Phi3VisionChatModel}, its options
 * {@link io.github.phi3v.springai.Phi3VisionChatOptions}, and a Spring Boot auto-configuration
 * ({@link io.github.phi3v.springai.Phi3VisionAutoConfiguration}) that turns the property {@code phi3v.model} into a
 * {@code ChatModel} bean.
 */
package io.github.phi3v.springai;
