package io.github.phi3v.tokenizer.reliability;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
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

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tokenizer.Phi3Tokenizer;
import io.github.phi3v.tokenizer.TokenizerLoadException;

/**
 * Reliability fuzzing of tokenizer loading ({@link Phi3Tokenizer#fromJson}): the real Phi-3-vision
 * {@code tokenizer.json} / {@code tokenizer_config.json} with one value replaced (added tokens, vocab
 * ids, merges, normalizer, decoder, post-processor, model flags, special-token settings) or the config
 * text bit-flipped. Each case loads (and then encodes/decodes a probe text) or throws
 * {@link TokenizerLoadException} with a message. Each mutation is applied in place and reverted, so the
 * 1.8 MB tree is parsed once.
 */
class TokenizerLoadFuzzTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Integer> COUNTS = new TreeMap<>();

    @AfterAll
    static void report() {
        int total = COUNTS.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("[reliability] tokenizer files: " + total + " cases " + COUNTS);
    }

    private static synchronized void count(String outcome) {
        COUNTS.merge(outcome, 1, Integer::sum);
    }

    /** Fails unless {@code outcome} was seen at least {@code min} times (a stuck generator fails here). */
    private static void requireAtLeast(String outcome, int min, String why) {
        int n = COUNTS.getOrDefault(outcome, 0);
        assertTrue(n >= min, "tokenizer files: outcome '" + outcome + "' seen " + n + " times, expected at least "
                + min + " (" + why + "); all outcomes " + COUNTS);
    }

    @Test
    void mutatedTokenizerFiles() throws Exception {
        Path dir = SharedData.tokenizer().resolve("phi-3-vision-128k-instruct");
        JsonNode tok = JSON.readTree(Files.readAllBytes(dir.resolve("tokenizer.json")));
        byte[] cfgBytes = Files.readAllBytes(dir.resolve("tokenizer_config.json"));
        JsonNode cfg = JSON.readTree(cfgBytes);
        byte[] tokBytes = JSON.writeValueAsBytes(tok);
        // Mutation sites: every container outside the 32k vocab / 61k merges, and those two tables (a random
        // entry of which is then replaced).
        List<JsonNode> tokSites = new ArrayList<>();
        collect(tok, tokSites, 0);
        List<JsonNode> cfgSites = new ArrayList<>();
        collect(cfg, cfgSites, 0);
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            SplittableRandom root = new SplittableRandom(0x70CL);
            for (int i = 0; i < 160; i++) {
                SplittableRandom r = root.split();
                String kind;
                byte[] tokIn = tokBytes;
                byte[] cfgIn = cfgBytes;
                Runnable undo = () -> { };
                switch (r.nextInt(3)) {
                    case 0 -> {
                        undo = mutate(tokSites.get(r.nextInt(tokSites.size())), r);
                        tokIn = JSON.writeValueAsBytes(tok);
                        kind = "tokenizer.json";
                    }
                    case 1 -> {
                        undo = mutate(cfgSites.get(r.nextInt(cfgSites.size())), r);
                        cfgIn = JSON.writeValueAsBytes(cfg);
                        kind = "tokenizer_config.json";
                    }
                    default -> {
                        cfgIn = cfgBytes.clone();
                        cfgIn[r.nextInt(cfgIn.length)] ^= (byte) (1 << r.nextInt(8));
                        kind = "config-bitflip";
                    }
                }
                undo.run();
                try {
                    Phi3Tokenizer t = Phi3Tokenizer.fromJson(new ByteArrayInputStream(tokIn), new ByteArrayInputStream(cfgIn));
                    int[] ids = t.encode("<|user|>\nHello wörld 😀 <|image_1|>\t end<|end|>");
                    assertTrue(ids.length > 0);
                    assertNotNull(t.decode(ids, r.nextBoolean()));
                    count(kind + ":ok");
                } catch (TokenizerLoadException e) {
                    assertNotNull(e.getMessage());
                    assertFalse(e.getMessage().isBlank());
                    count(kind + ":TokenizerLoadException");
                } catch (Throwable t) {
                    throw new AssertionError("tokenizer case " + i + " (" + kind + "): undocumented " + t, t);
                }
            }
        });
        // 160 cases, a third of each kind (~53). tokenizer.json: a random value in one of its containers
        // (model flags, normalizer, pre-tokenizer, decoder, added tokens, vocab/merges entries) breaks it
        // about half the time. A bit flip in the 3 KB config text mostly breaks the JSON or a string it needs
        // (~3/4), else lands in the chat template or an unread field. The config's mutation sites are mostly
        // entries of added_tokens_decoder and the other fields the loader ignores (the tokens come from
        // tokenizer.json; bos/eos/add_*_token are 5 of ~20 sites), so these all load. Minimums are ~half.
        requireAtLeast("tokenizer.json:ok", 8, "~half of ~53 tokenizer.json mutations are harmless");
        requireAtLeast("tokenizer.json:TokenizerLoadException", 15, "~half break a field the loader reads");
        requireAtLeast("config-bitflip:TokenizerLoadException", 20, "~3/4 of ~53 bit flips break the JSON");
        requireAtLeast("config-bitflip:ok", 6, "~1/4 land where a flip changes nothing the loader checks");
        requireAtLeast("tokenizer_config.json:ok", 25, "~53 mutations, nearly all in fields the loader ignores");
    }

    /** Every container outside the big tables, and the vocab and merges tables themselves. */
    private static void collect(JsonNode n, List<JsonNode> out, int depth) {
        if (!n.isContainerNode()) {
            return;
        }
        if (n.size() > 10_000) {
            out.add(n);   // the table itself (entries are sampled in mutate)
            return;
        }
        out.add(n);
        for (Iterator<JsonNode> it = n.elements(); it.hasNext();) {
            collect(it.next(), out, depth + 1);
        }
    }

    /** Replaces or removes one child of {@code parent}; returns the undo action. */
    private static Runnable mutate(JsonNode parent, SplittableRandom r) {
        if (parent instanceof ObjectNode o && o.size() > 0) {
            List<String> keys = new ArrayList<>();
            o.fieldNames().forEachRemaining(keys::add);
            String key = keys.get(r.nextInt(keys.size()));
            JsonNode old = o.get(key);
            if (r.nextInt(5) == 0) {
                o.remove(key);
            } else {
                o.set(key, randomValue(r, old));
            }
            return () -> o.set(key, old);
        }
        if (parent instanceof ArrayNode a && a.size() > 0) {
            int at = r.nextInt(a.size());
            JsonNode old = a.get(at);
            a.set(at, randomValue(r, old));
            return () -> a.set(at, old);
        }
        return () -> { };
    }

    private static JsonNode randomValue(SplittableRandom r, JsonNode old) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (r.nextInt(12)) {
            case 0 -> f.numberNode(-1);
            case 1 -> f.numberNode(Integer.MAX_VALUE);
            case 2 -> f.numberNode(32000);                       // an id already taken
            case 3 -> f.textNode("");
            case 4 -> f.textNode("<|end|>");
            case 5 -> f.textNode("a b c");                       // a merge with three parts
            case 6 -> f.nullNode();
            case 7 -> f.booleanNode(r.nextBoolean());
            case 8 -> f.objectNode().put("type", "Unknown");
            case 9 -> f.arrayNode();
            case 10 -> f.numberNode(1.5);
            default -> old.isTextual() ? f.textNode(old.textValue() + "\uFFFD") : f.numberNode(r.nextInt(0, 40000));
        };
    }
}
