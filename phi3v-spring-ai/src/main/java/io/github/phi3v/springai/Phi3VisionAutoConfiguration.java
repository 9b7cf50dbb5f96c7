package io.github.phi3v.springai;


import org.springframework.ai.chat.model.ChatModel;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;

/**
 * Spring Boot auto-configuration: with the property {@code phi3v.model} set, a {@link Phi3Vision} bean (loaded at
 * startup, closed with the context) and a {@link Phi3VisionChatModel} bean, which Spring AI's chat-client
 * auto-configuration turns into a {@code ChatClient.Builder}. Either bean can be replaced by declaring one.
 */
@AutoConfiguration(beforeName = "org.springframework.ai.model.chat.client.autoconfigure.ChatClientAutoConfiguration")
@ConditionalOnProperty(prefix = "phi3v", name = "model")
@EnableConfigurationProperties(Phi3VisionProperties.class)
public class Phi3VisionAutoConfiguration {

    /** Created by Spring. */
    public Phi3VisionAutoConfiguration() {
    }

    /**
     * The model, loaded from {@code phi3v.model} with the other {@code phi3v.*} loading properties.
     *
     * @param properties the bound properties
     * @return the loaded model; the context closes it
     */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public Phi3Vision phi3Vision(Phi3VisionProperties properties) {
        Phi3VisionBuilder b = Phi3Vision.builder();
        apply("phi3v.model", () -> b.model(properties.getModel()));
        if (properties.getMaxContext() != null) {
            apply("phi3v.max-context", () -> b.maxContext(properties.getMaxContext()));
        }
        if (properties.getDtype() != null) {
            apply("phi3v.dtype", () -> b.dtype(properties.getDtype()));
        }
        if (properties.getQuantization() != null) {
            apply("phi3v.quantization", () -> b.quantization(properties.getQuantization()));
        }
        if (properties.getDevice() != null) {
            apply("phi3v.device", () -> b.device(properties.getDevice()));
        }
        if (properties.getNumCrops() != null) {
            apply("phi3v.num-crops", () -> b.numCrops(properties.getNumCrops()));
        }
        if (properties.getThreads() != null) {
            apply("phi3v.threads", () -> b.threads(properties.getThreads()));
        }
        if (properties.getMaxConcurrentRequests() != null) {
            apply("phi3v.max-concurrent-requests", () -> b.maxConcurrentRequests(properties.getMaxConcurrentRequests()));
        }
        return b.warmUp(properties.isWarmUp()).build();
    }

    /**
     * The Spring AI chat model over {@link #phi3Vision}, with {@code phi3v.options.*} as its defaults.
     *
     * @param phi3Vision the model
     * @param properties the bound properties
     * @return the chat model
     */
    @Bean
    @ConditionalOnMissingBean(ChatModel.class)
    public Phi3VisionChatModel phi3VisionChatModel(Phi3Vision phi3Vision, Phi3VisionProperties properties) {
        return new Phi3VisionChatModel(phi3Vision, properties.getOptions(), properties.isLiteralText(), null);
    }

    /** Runs one builder setter, naming the property when it refuses the value. */
    private static void apply(String property, Runnable setter) {
        try {
            setter.run();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(property + ": " + e.getMessage(), e);
        }
    }
}
