package io.github.phi3v.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.core.config.InvalidConfigException;
import io.github.phi3v.core.model.KvCache;
import io.github.phi3v.core.model.ModelOptions;
import io.github.phi3v.core.model.Phi3VModel;
import io.github.phi3v.core.model.Precision;
import io.github.phi3v.core.model.WeightMismatchException;
import io.github.phi3v.core.weights.InvalidCheckpointException;
import io.github.phi3v.core.config.Phi3VConfig;
import io.github.phi3v.testsupport.SharedData;

/**
 * Reliability fuzzing of {@code config.json} ({@link Phi3VConfig#fromJson}): the golden tiny config
 * with one value replaced (wrong type, negative, zero, huge, fractional, null), a key removed, or its
 * text bit-flipped/truncated. Each case parses or throws {@link InvalidConfigException} with a message.
 */
class ConfigFuzzTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Integer> COUNTS = new TreeMap<>();

    @AfterAll
    static void report() {
        int total = COUNTS.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("[reliability] config.json: " + total + " cases " + COUNTS);
    }

    @Test
    void mutatedConfigs() throws Exception {
        String golden = Files.readString(SharedData.tinyA().resolve("model-f32/config.json"));
        JsonNode tree = JSON.readTree(golden);
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            SplittableRandom root = new SplittableRandom(0xC0F16L);
            for (int i = 0; i < 3000; i++) {
                SplittableRandom r = root.split();
                String text;
                String kind;
                if (r.nextInt(4) == 0) {
                    byte[] b = golden.getBytes(StandardCharsets.UTF_8);
                    if (r.nextBoolean()) {
                        b = java.util.Arrays.copyOf(b, r.nextInt(b.length));
                        kind = "truncated";
                    } else {
                        for (int k = r.nextInt(1, 4); k > 0; k--) {
                            b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                        }
                        kind = "bitflip";
                    }
                    text = new String(b, StandardCharsets.UTF_8);
                } else {
                    JsonNode copy = tree.deepCopy();
                    for (int k = r.nextInt(1, 3); k > 0; k--) {
                        mutate(copy, r);
                    }
                    text = copy.toString();
                    kind = "value";
                }
                try {
                    assertNotNull(Phi3VConfig.fromJson(text));
                    count(kind + ":ok");
                } catch (InvalidConfigException e) {
                    assertNotNull(e.getMessage(), "case " + i);
                    assertFalse(e.getMessage().isBlank(), "case " + i);
                    count(kind + ":InvalidConfigException");
                } catch (Throwable t) {
                    throw new AssertionError("config case " + i + ": undocumented " + t + " for " + text, t);
                }
            }
        });
        // 1/8 truncations (~375): a prefix of a JSON object never parses. 1/8 bit flips (~375): most break the
        // syntax, a key name or a number (~4/5), the rest land in a value that stays valid (a digit of
        // a rope factor, a letter of model_name). 3/4 value mutations (~2250, 1-2 per config): about 1/4 hit a
        // field the config does not read or a value still in range (a positive int for a token id), the rest
        // are refused. Minimums are about half of these expectations.
        requireAtLeast("truncated:InvalidConfigException", 170, "every truncation of ~375 is refused");
        requireAtLeast("bitflip:InvalidConfigException", 150, "~4/5 of ~375 bit flips are refused");
        requireAtLeast("bitflip:ok", 30, "~1/5 of bit flips keep the config valid");
        requireAtLeast("value:InvalidConfigException", 800, "~3/4 of ~2250 value mutations are refused");
        requireAtLeast("value:ok", 300, "~1/4 change an unread field or stay in range");
    }

    /**
     * Configs that parse but differ from the checkpoint (changed sizes, rope factors, token ids) through
     * the model loader and one forward pass: the documented exceptions or a result, never a native
     * error. The weights are symlinked, so each case costs one 17 MB load.
     */
    @Test
    void acceptedConfigsThroughTheModel(@TempDir Path dir) throws Exception {
        Path golden = SharedData.tinyA().resolve("model-f32");
        Files.createSymbolicLink(dir.resolve("model.safetensors"), golden.resolve("model.safetensors"));
        JsonNode tree = JSON.readTree(Files.readString(golden.resolve("config.json")));
        ModelOptions f32 = new ModelOptions(Precision.FLOAT32, ModelOptions.Device.CPU, 0);
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            SplittableRandom root = new SplittableRandom(0xC0F17L);
            int tried = 0;
            for (int i = 0; tried < 40 && i < 5000; i++) {
                SplittableRandom r = root.split();
                JsonNode copy = tree.deepCopy();
                mutate(copy, r);
                String text = copy.toString();
                try {
                    Phi3VConfig.fromJson(text);
                } catch (InvalidConfigException e) {
                    continue;   // covered above; only accepted configs go on
                }
                tried++;
                Files.writeString(dir.resolve("config.json"), text);
                try (Phi3VModel m = Phi3VModel.load(dir, f32); KvCache cache = m.newKvCache(8)) {
                    float[] logits = m.forward(new int[] {1, 450, 3290}, List.of(), cache, 0);
                    assertTrue(logits.length > 0);
                    count("model:ok");
                } catch (WeightMismatchException | InvalidConfigException | InvalidCheckpointException
                        | IllegalArgumentException e) {
                    assertNotNull(e.getMessage());
                    count("model:" + e.getClass().getSimpleName());
                } catch (Throwable t) {
                    throw new AssertionError("accepted config case " + i + ": undocumented " + t + " for " + text, t);
                }
            }
            assertEquals(40, tried, "accepted configs found in 5000 mutations");
        });
        // Of the accepted configs, most changed a field the tensors do not depend on (token ids, rope
        // factors and scaling type, dropout, model_name, ...) and must load AND run a forward pass; a changed
        // dimension that still parses (hidden size, layer count, vocabulary) must be a weight mismatch.
        requireAtLeast("model:ok", 20, "most accepted mutations leave the tensors' shapes alone");
        requireAtLeast("model:WeightMismatchException", 1, "a dimension changed within range");
    }

    /** Fails unless {@code outcome} was seen at least {@code min} times (a stuck generator fails here). */
    private static synchronized void requireAtLeast(String outcome, int min, String why) {
        int n = COUNTS.getOrDefault(outcome, 0);
        assertTrue(n >= min, "config.json: outcome '" + outcome + "' seen " + n + " times, expected at least " + min
                + " (" + why + "); all outcomes " + COUNTS);
    }

    private static synchronized void count(String outcome) {
        COUNTS.merge(outcome, 1, Integer::sum);
    }

    /** Replaces or removes one randomly chosen value anywhere in the tree. */
    static void mutate(JsonNode root, SplittableRandom r) {
        List<JsonNode> containers = new ArrayList<>();
        collect(root, containers);
        JsonNode parent = containers.get(r.nextInt(containers.size()));
        if (parent instanceof ObjectNode o && o.size() > 0) {
            List<String> keys = new ArrayList<>();
            o.fieldNames().forEachRemaining(keys::add);
            String key = keys.get(r.nextInt(keys.size()));
            if (r.nextInt(5) == 0) {
                o.remove(key);
            } else {
                o.set(key, randomValue(r));
            }
        } else if (parent instanceof ArrayNode a && a.size() > 0) {
            int at = r.nextInt(a.size());
            if (r.nextInt(5) == 0) {
                a.remove(at);
            } else {
                a.set(at, randomValue(r));
            }
        }
    }

    private static void collect(JsonNode n, List<JsonNode> out) {
        if (n.isContainerNode()) {
            out.add(n);
            for (Iterator<JsonNode> it = n.elements(); it.hasNext();) {
                collect(it.next(), out);
            }
        }
    }

    static JsonNode randomValue(SplittableRandom r) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (r.nextInt(12)) {
            case 0 -> f.numberNode(0);
            case 1 -> f.numberNode(-r.nextInt(1, 100));
            case 2 -> f.numberNode(Long.MAX_VALUE);
            case 3 -> f.numberNode(new java.math.BigInteger("123456789012345678901234567890"));
            case 4 -> f.numberNode(r.nextDouble() * 10);
            case 5 -> f.numberNode(Double.NaN);
            case 6 -> f.textNode(r.nextBoolean() ? "" : "su");
            case 7 -> f.nullNode();
            case 8 -> f.booleanNode(r.nextBoolean());
            case 9 -> f.arrayNode().add(1).add(-1);
            case 10 -> f.objectNode();
            default -> f.numberNode(r.nextInt(1, 5000));
        };
    }
}
