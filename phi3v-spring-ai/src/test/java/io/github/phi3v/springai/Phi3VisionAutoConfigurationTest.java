package io.github.phi3v.springai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.model.chat.client.autoconfigure.ChatClientAutoConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;

import io.github.phi3v.core.ImageInput;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.springai.examples.DescribeImageApp;
import io.github.phi3v.testsupport.SharedData;

/**
 * The Boot auto-configuration: with only {@code phi3v.*} properties a context has a {@link ChatModel} and a
 * {@code ChatClient.Builder} that answer like the core, the model is closed with the context, no model property
 * means no beans, and a bad property fails the start with a message naming it. Also runs the example app.
 */
@Timeout(180)
class Phi3VisionAutoConfigurationTest {

    private static String modelDir() {
        return SharedData.tinyA().resolve("model-f32").toString();
    }

    private static ApplicationContextRunner runner() {
        return new ApplicationContextRunner().withConfiguration(
                AutoConfigurations.of(Phi3VisionAutoConfiguration.class, ChatClientAutoConfiguration.class));
    }

    @Test
    void propertiesGiveAChatModelAndAChatClientThatAnswerLikeTheCore() {
        AtomicReference<Phi3Vision> loaded = new AtomicReference<>();
        runner().withPropertyValues("phi3v.model=" + modelDir(), "phi3v.dtype=float32", "phi3v.num-crops=4",
                "phi3v.max-context=2048", "phi3v.threads=2", "phi3v.options.max-tokens=6")
                .run(context -> {
                    assertInstanceOf(Phi3VisionChatModel.class, context.getBean(ChatModel.class));
                    Phi3Vision phi = context.getBean(Phi3Vision.class);
                    loaded.set(phi);
                    assertEquals(2048, phi.maxContext());
                    String answer = DescribeImageApp.describe(context.getBean(ChatClient.Builder.class),
                            TinyModel.image(TinyModel.IMAGE), "What is shown?");
                    Answer expected = phi.chat(io.github.phi3v.core.ChatRequest.builder().literalText(true)
                            .maxNewTokens(6).user("What is shown?", ImageInput.of(TinyModel.image(TinyModel.IMAGE)))
                            .build());
                    assertEquals(expected.text(), answer);
                    assertTrue(expected.usage().imageTokens() > 0);
                });
        assertNotNull(loaded.get());
        assertTrue(loaded.get().isClosed(), "the context closed the model");
    }

    @Test
    void theWarmUpPropertyWarmsTheModelUpAtLoad() {
        // System.Logger reaches java.util.logging here: the loader's records, whatever the handlers print.
        java.util.logging.Logger jul = java.util.logging.Logger.getLogger("io.github.phi3v.core.ModelLoader");
        java.util.List<String> messages = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler h = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                messages.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        jul.addHandler(h);
        try {
            for (boolean warm : new boolean[] {true, false}) {
                messages.clear();
                runner().withPropertyValues("phi3v.model=" + modelDir(), "phi3v.dtype=float32",
                        "phi3v.warm-up=" + warm).run(context -> {
                            assertEquals(warm, context.getBean(Phi3VisionProperties.class).isWarmUp());
                            Phi3Vision phi = context.getBean(Phi3Vision.class);
                            assertEquals(0, phi.kvCacheBytesInUse(), "the warm-up keeps no KV cache");
                        });
                assertTrue(messages.stream().anyMatch(m -> m.startsWith("loaded ")), "the loader logged: " + messages);
                assertEquals(warm ? 1 : 0, messages.stream().filter(m -> m.startsWith("warm-up: ")
                        && m.contains("generatedTokens=8,")).count(), "phi3v.warm-up=" + warm + ": " + messages);
            }
        } finally {
            jul.removeHandler(h);
        }
    }

    @Test
    void withoutTheModelPropertyThereAreNoBeans() {
        runner().run(context -> {
            assertFalse(context.containsBean("phi3Vision"));
            assertEquals(0, context.getBeanNamesForType(ChatModel.class).length);
        });
    }

    @Test
    void aBadPropertyFailsTheStartNamingIt() {
        runner().withPropertyValues("phi3v.model=" + modelDir(), "phi3v.dtype=float8").run(context -> {
            Throwable failure = context.getStartupFailure();
            assertNotNull(failure);
            Throwable named = failure;
            while (named != null && !(named instanceof IllegalArgumentException)) {
                named = named.getCause();
            }
            assertNotNull(named, "an IllegalArgumentException in " + failure);
            assertTrue(named.getMessage().startsWith("phi3v.dtype: ") && named.getMessage().contains("float8"),
                    named.getMessage());
        });
    }

    @Test
    void configurationMetadataDescribesTheProperties() throws Exception {
        try (var in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            assertNotNull(in, "spring-configuration-metadata.json is on the classpath");
            String json = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            for (String name : new String[] {"phi3v.model", "phi3v.max-context", "phi3v.quantization", "phi3v.dtype",
                    "phi3v.num-crops", "phi3v.threads", "phi3v.warm-up", "phi3v.options.max-tokens",
                    "phi3v.options.seed"}) {
                assertTrue(json.contains("\"" + name + "\""), name + " in the metadata");
            }
        }
    }

    @Test
    void theExampleApplicationStartsAndAnswers() {
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(DescribeImageApp.class)
                .web(WebApplicationType.NONE)
                .properties("phi3v.model=" + modelDir(), "phi3v.dtype=float32", "phi3v.num-crops=1",
                        "phi3v.options.max-tokens=4")
                .run()) {
            String answer = DescribeImageApp.describe(context.getBean(ChatClient.Builder.class),
                    TinyModel.image("a06_tiny_40x30.png"), "What is shown?");
            Answer expected = context.getBean(Phi3Vision.class).chat(io.github.phi3v.core.ChatRequest.builder()
                    .literalText(true).maxNewTokens(4)
                    .user("What is shown?", ImageInput.of(TinyModel.image("a06_tiny_40x30.png"))).build());
            assertEquals(expected.text(), answer);
        }
    }
}
