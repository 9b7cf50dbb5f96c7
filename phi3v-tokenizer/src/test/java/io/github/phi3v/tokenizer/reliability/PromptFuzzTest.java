package io.github.phi3v.tokenizer.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tokenizer.ChatTemplate;
import io.github.phi3v.tokenizer.ImageTags;
import io.github.phi3v.tokenizer.Message;
import io.github.phi3v.tokenizer.Phi3Tokenizer;
import io.github.phi3v.tokenizer.StreamingDecoder;

/**
 * Reliability fuzzing of the prompt path: random Unicode (lone surrogates, special-token text, image
 * tags with odd numbers, huge repeats) through {@link Phi3Tokenizer#encode}, {@link
 * Phi3Tokenizer#encodeMultimodal}, {@link Phi3Tokenizer#decode}, {@link StreamingDecoder} and the chat
 * template. Every case must either succeed with a well-formed result or throw
 * {@link IllegalArgumentException} with a message; anything else (another exception type, an
 * {@link Error}, a hang) fails the test. Seeded, so a failure names a reproducible case.
 */
class PromptFuzzTest {

    private static final long SEED = 0x9E3779B97F4A7C15L;
    private static final Duration BATCH_TIMEOUT = Duration.ofSeconds(60);
    private static final String[] SPECIALS = {"<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>",
        "<|end|>", "<|endoftext|>", "<|image|>", "<|placeholder1|>", "<|im_start|>", "<0x0A>", "▁", "  ", "\n", "\t",
        "\r\n", "\u00A0", "\u3000", "<|image_", "|>", "<|"};

    private static Phi3Tokenizer tok;
    private static final Map<String, AtomicInteger> COUNTS = new TreeMap<>();

    @BeforeAll
    static void load() {
        tok = Phi3Tokenizer.fromDirectory(SharedData.tokenizer().resolve("phi-3-vision-128k-instruct"));
    }

    @AfterAll
    static void report() {
        // A case can carry two labels (see batch), so the labels are not summed into a case count.
        System.out.println("[reliability] prompts: outcomes " + COUNTS);
    }

    private static void count(String outcome) {
        synchronized (COUNTS) {
            COUNTS.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
        }
    }

    // ------------------------------------------------------------------------------------ generators

    /** Random text mixing ASCII, any BMP char, lone and paired surrogates, supplementary, specials, tags. */
    static String randomText(SplittableRandom r, int maxParts) {
        StringBuilder sb = new StringBuilder();
        int parts = r.nextInt(maxParts + 1);
        for (int p = 0; p < parts; p++) {
            switch (r.nextInt(12)) {
                case 0 -> sb.append((char) r.nextInt(0xD800, 0xE000));                 // lone surrogate
                case 1 -> sb.appendCodePoint(r.nextInt(0x10000, 0x110000));           // valid pair
                case 2 -> sb.append((char) r.nextInt(0x10000));                       // any BMP char
                case 3 -> sb.append(SPECIALS[r.nextInt(SPECIALS.length)]);
                case 4 -> sb.append(randomTag(r));
                case 5 -> sb.append(" ".repeat(r.nextInt(1, 40)));
                case 6 -> sb.append(String.valueOf((char) r.nextInt(0x20, 0x7F)).repeat(r.nextInt(1, 300)));
                case 7 -> sb.append((char) r.nextInt(0x20));                          // controls, NUL
                case 8 -> sb.append("\u0301\u0308\u200D\uFEFF\uFFFD\uFFFF".charAt(r.nextInt(6)));
                default -> {
                    int n = r.nextInt(1, 12);
                    for (int i = 0; i < n; i++) {
                        sb.append((char) r.nextInt(0x20, 0x7F));
                    }
                }
            }
        }
        return sb.toString();
    }

    /** An image tag, often out of range or malformed: 0, negative, huge, Unicode digits, leading zeros. */
    static String randomTag(SplittableRandom r) {
        String number = switch (r.nextInt(8)) {
            case 0 -> "0";
            case 1 -> "-1";
            case 2 -> "99999999999999999999999";
            case 3 -> "\u0661";                      // ARABIC-INDIC DIGIT ONE
            case 4 -> "00" + r.nextInt(1, 4);
            case 5 -> Integer.toString(r.nextInt(1, 4000));
            case 6 -> "";
            default -> Integer.toString(r.nextInt(1, 4));
        };
        return "<|image_" + number + "|>";
    }

    // ------------------------------------------------------------------------------------ checks

    private static void checkIds(int[] ids, String text) {
        for (int id : ids) {
            if (id < 0 || id >= tok.vocabSize()) {
                fail("encode produced id " + id + " outside [0, " + tok.vocabSize() + ") for " + describe(text));
            }
        }
    }

    private static void checkDecode(int[] ids, boolean skip) {
        String full = tok.decode(ids, skip);
        assertNotNull(full);
        StreamingDecoder sd = tok.streamingDecoder(skip);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            String piece = sd.next(id);
            assertNotNull(piece);
            // Pieces are whole text: never end in the middle of a surrogate pair.
            if (!piece.isEmpty() && Character.isHighSurrogate(piece.charAt(piece.length() - 1))) {
                fail("streaming piece ends with a lone high surrogate for ids " + Arrays.toString(ids));
            }
            sb.append(piece);
        }
        sb.append(sd.finish());
        assertEquals(full, sb.toString(), "streaming concatenation != decode for " + Arrays.toString(ids));
    }

    private static void expectIae(IllegalArgumentException e, String what) {
        assertNotNull(e.getMessage(), what + ": IllegalArgumentException without a message");
        assertFalse(e.getMessage().isBlank(), what + ": IllegalArgumentException with a blank message");
    }

    private static String describe(String s) {
        String head = s.length() > 120 ? s.substring(0, 120) + "..." : s;
        StringBuilder sb = new StringBuilder("text of " + s.length() + " chars: ");
        head.chars().forEach(c -> sb.append(c < 0x20 || c > 0x7E ? String.format("\\u%04X", c) : String.valueOf((char) c)));
        return sb.toString();
    }

    /**
     * Runs {@code body} on {@code cases} cases; any throwable other than the allowed ones fails with the case.
     * A body returns its outcome as one or more labels joined by {@code '+'} (each counted once).
     *
     * @return how often each outcome label was seen in this batch
     */
    private static Map<String, Integer> batch(String name, long seed, int cases, CaseBody body) {
        Map<String, Integer> seen = new TreeMap<>();
        assertTimeoutPreemptively(BATCH_TIMEOUT, () -> {
            SplittableRandom root = new SplittableRandom(seed);
            for (int i = 0; i < cases; i++) {
                SplittableRandom r = root.split();
                String outcome;
                try {
                    outcome = body.run(r);
                } catch (IllegalArgumentException e) {
                    expectIae(e, name + " case " + i);
                    outcome = "IAE";
                } catch (Throwable t) {
                    throw new AssertionError(name + " case " + i + " (seed " + seed + "): undocumented " + t, t);
                }
                for (String label : outcome.split("\\+")) {
                    seen.merge(label, 1, Integer::sum);
                    count(name + ":" + label);
                }
            }
        }, name + ": batch of " + cases + " cases exceeded " + BATCH_TIMEOUT);
        return seen;
    }

    /**
     * Fails unless {@code outcome} was seen at least {@code min} times: a generator that stopped producing
     * one kind of input (or a constant one) fails here instead of passing with nothing tested.
     */
    static void requireAtLeast(String batch, Map<String, Integer> seen, String outcome, int min, String why) {
        int n = seen.getOrDefault(outcome, 0);
        assertTrue(n >= min, batch + ": outcome '" + outcome + "' seen " + n + " times, expected at least " + min
                + " (" + why + "); all outcomes " + seen);
    }

    @FunctionalInterface
    private interface CaseBody {
        String run(SplittableRandom r);
    }

    // ------------------------------------------------------------------------------------ tests

    @Test
    void randomUnicodeEncodesAndDecodes() {
        Map<String, Integer> seen = batch("encode", SEED, 6000, r -> {
            String text = randomText(r, r.nextInt(10) == 0 ? 200 : 20);
            int[] ids = tok.encode(text);
            checkIds(ids, text);
            assertTrue(ids.length >= 1 && ids[0] == tok.bosId(), "encode(text) starts with <s>");
            int[] raw = tok.encode(text, false);
            checkIds(raw, text);
            assertArrayEquals(Arrays.copyOfRange(ids, 1, ids.length), raw, "encode with and without <s>");
            // Documented: a lone surrogate is encoded as U+FFFD.
            String replaced = replaceLoneSurrogates(text);
            if (!replaced.equals(text)) {
                assertArrayEquals(tok.encode(replaced), ids, "lone surrogates must encode as U+FFFD");
            }
            checkDecode(ids, r.nextBoolean());
            // Two independent partitions of the inputs, so that a generator stuck on one input fails below.
            boolean special = Arrays.stream(raw).anyMatch(id -> id <= 2 || id >= 32000);
            return (text.isEmpty() ? "empty" : replaced.equals(text) ? "valid-utf16" : "lone-surrogate")
                    + (special ? "+special-token" : "+no-special-token");
        });
        // Per part, 1/12 draws a lone surrogate (and 1/12 x 1/32 a BMP char in the surrogate range); texts of
        // 0-20 parts (9 in 10) therefore hold one in ~52 %, texts of 0-200 parts almost always: ~3300 of 6000
        // expected, ~2500 without. Special-token text (9 of the 22 SPECIALS: <s>, </s>, <unk> and the six
        // added chat tokens, drawn by 1/12 of the parts) reaches ~1/3 of the texts. 0 parts (empty text):
        // ~4 %, ~250. Each minimum is about half of what the design gives (seeded, so the counts are fixed;
        // the margin is for generator edits that keep its intent).
        requireAtLeast("encode", seen, "lone-surrogate", 1500, "~55 % of texts hold a lone surrogate");
        requireAtLeast("encode", seen, "valid-utf16", 1000, "~40 % of texts are valid UTF-16");
        requireAtLeast("encode", seen, "special-token", 1000, "~1/3 of texts hold special-token text");
        requireAtLeast("encode", seen, "no-special-token", 2000, "~2/3 of texts hold none");
        requireAtLeast("encode", seen, "empty", 100, "1 in 21 short texts has 0 parts");
    }

    @Test
    void randomIdsDecode() {
        Map<String, Integer> seen = batch("decode", SEED + 1, 3000, r -> {
            int[] ids = new int[r.nextInt(0, 64)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = switch (r.nextInt(6)) {
                    case 0 -> r.nextInt(3, 3 + 256);                // byte-fallback tokens <0x00>..<0xFF>
                    case 1 -> r.nextInt(32000, 32064);              // added + embedding-only ids
                    case 2 -> r.nextInt();                          // anything, negative included
                    case 3 -> r.nextBoolean() ? Integer.MIN_VALUE : Integer.MAX_VALUE;
                    default -> r.nextInt(tok.vocabSize());
                };
            }
            checkDecode(ids, r.nextBoolean());
            boolean invalid = Arrays.stream(ids).anyMatch(id -> id < 0 || id >= tok.vocabSize());
            boolean bytes = Arrays.stream(ids).anyMatch(id -> id >= 3 && id < 3 + 256);
            return (ids.length == 0 ? "empty" : invalid ? "invalid-ids" : "valid-ids")
                    + (bytes ? "+byte-tokens" : "+no-byte-tokens");
        });
        // Lengths 0-63 uniform; each id is out of range with p ~1/3 (cases 2 and 3: nearly every int is
        // outside [0, 32064)), a byte-fallback token with p 1/6 + 1/6 x 256/32064. Expected: empty ~47,
        // all ids valid ~90 (sum over L of (2/3)^L / 64), some invalid ~2860, no byte token ~6 % (~180).
        requireAtLeast("decode", seen, "empty", 15, "1 in 64 arrays is empty");
        requireAtLeast("decode", seen, "valid-ids", 30, "~3 % of arrays hold only ids of the vocabulary");
        requireAtLeast("decode", seen, "invalid-ids", 2000, "~95 % of arrays hold an id outside it");
        requireAtLeast("decode", seen, "byte-tokens", 2000, "~94 % of arrays hold a byte-fallback token");
        requireAtLeast("decode", seen, "no-byte-tokens", 60, "~6 % hold none (empty ones included)");
    }

    @Test
    void multimodalPromptsSucceedOrExplain() {
        Map<String, Integer> seen = batch("multimodal", SEED + 2, 3000, r -> {
            String prompt = randomText(r, 12);
            int images = r.nextInt(0, 5);
            if (r.nextBoolean()) {  // a well-formed prompt most of the time, so success is exercised too
                StringBuilder sb = new StringBuilder();
                for (int k = 1; k <= images; k++) {
                    sb.append(ImageTags.tag(k)).append(randomText(r, 3));
                }
                prompt = sb + prompt.replace("<|image_", "<|imag_");
            }
            int[] counts = new int[images];
            for (int i = 0; i < images; i++) {
                counts[i] = r.nextInt(8) == 0 ? -r.nextInt(1, 5) : r.nextInt(0, 3000);
            }
            int[] ids = tok.encodeMultimodal(prompt, counts);
            // Success: every placeholder names a given image; each image's run has its count.
            long[] placeholders = new long[images];
            for (int id : ids) {
                if (id < 0) {
                    assertTrue(-id <= images, "placeholder " + id + " for " + images + " images");
                    placeholders[-id - 1]++;
                } else {
                    assertTrue(id < tok.vocabSize(), "id " + id);
                }
            }
            if (images > 0) {
                List<Integer> order = ImageTags.imageIdsInOrder(prompt);
                for (int k = 1; k <= images; k++) {
                    final int kk = k;
                    long tags = order.stream().filter(x -> x == kk).count();
                    assertEquals(tags * counts[k - 1], placeholders[k - 1], "placeholders of image " + k);
                }
            }
            return images == 0 ? "ok-text-only" : "ok-with-images";
        });
        // Half the prompts are well formed (tags 1..k in order, stray tags defused) with 0-4 images; a
        // negative count (1 in 8 per image) still refuses them. Expected: successes without images 1/5 of the
        // prompts minus random ones holding a tag (~600), successes with images ~800, refusals ~1600.
        requireAtLeast("multimodal", seen, "ok-text-only", 250, "~1/5 of prompts: no image and no tag");
        requireAtLeast("multimodal", seen, "ok-with-images", 400, "~1/4: well formed, 1-4 images, counts >= 0");
        requireAtLeast("multimodal", seen, "IAE", 800, "random tags and negative counts are refused");
    }

    @Test
    void chatTemplateWithRandomMessages() {
        Map<String, Integer> seen = batch("chat", SEED + 3, 1000, r -> {
            List<Message> messages = new ArrayList<>();
            int n = r.nextInt(0, 4);
            if (r.nextBoolean()) {
                messages.add(Message.system(randomText(r, 5)));
            }
            for (int i = 0; i < n; i++) {
                messages.add(i % 2 == 0 ? Message.user(randomText(r, 6)) : Message.assistant(randomText(r, 6)));
            }
            String prompt = ChatTemplate.render(messages, r.nextBoolean());
            checkIds(tok.encode(prompt), prompt);
            return messages.size() <= 1 ? "ok-one-or-no-message" : "ok-conversation";
        });
        // 0-3 turns (uniform) after an optional system message (p 1/2). Empty with a generation prompt
        // (1/4 x 1/2 x 1/2 = 1/16, ~60) is refused; conversations of 2+ messages ~5/8 (~620); the rest, 0-1
        // message without refusal, ~5/16 (~310).
        requireAtLeast("chat", seen, "IAE", 25, "1/16: no message but a generation prompt");
        requireAtLeast("chat", seen, "ok-conversation", 300, "~5/8 render 2+ messages");
        requireAtLeast("chat", seen, "ok-one-or-no-message", 150, "~5/16 render 0-1 message");
    }

    @Test
    void thousandsOfImageTags() {
        assertTimeoutPreemptively(BATCH_TIMEOUT, () -> {
            // 3000 distinct images, one tag each, 1 token each: accepted, 3000 runs + 3001 <s>.
            int k = 3000;
            StringBuilder sb = new StringBuilder();
            for (int i = 1; i <= k; i++) {
                sb.append(ImageTags.tag(i)).append(" x");
            }
            int[] counts = new int[k];
            Arrays.fill(counts, 1);
            int[] ids = tok.encodeMultimodal(sb.toString(), counts);
            assertEquals(k, Arrays.stream(ids).filter(id -> id < 0).count());
            count("tags:3000-distinct-ok");

            // 5000 tags of image 1 at 2653 tokens each (num_crops 16 worst case): 13 M ids, still fine.
            String many = "<|image_1|>".repeat(5000);
            int[] big = tok.encodeMultimodal(many, new int[] {2653});
            assertEquals(5000L * 2653 + 5001, big.length);
            count("tags:5000-repeats-ok");

            // The same tags out of order and with a gap: refused with the processor's message.
            IllegalArgumentException gap = assertThrows(IllegalArgumentException.class,
                    () -> tok.encodeMultimodal(sb + ImageTags.tag(k + 2), counts));
            expectIae(gap, "gap");
            assertTrue(gap.getMessage().contains("continuous"), gap.getMessage());
            count("tags:gap-IAE");

            // Counts whose total does not fit an int[] must be refused, not overflow into an index error.
            IllegalArgumentException overflow = assertThrows(IllegalArgumentException.class,
                    () -> tok.encodeMultimodal("<|image_1|><|image_1|> a", new int[] {Integer.MAX_VALUE}));
            expectIae(overflow, "overflow");
            assertTrue(overflow.getMessage().contains("expands to more than"), overflow.getMessage());
            IllegalArgumentException beyond = assertThrows(IllegalArgumentException.class,
                    () -> tok.encodeMultimodal("a <|image_1|>", new int[] {Integer.MAX_VALUE - 5}));
            assertTrue(beyond.getMessage().contains("expands to more than"), beyond.getMessage());
            count("tags:overflow-IAE");

            // Huge tag numbers (beyond long) are refused with a message, not a NumberFormatException.
            IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
                    () -> tok.encodeMultimodal("<|image_99999999999999999999999|>", new int[] {1}));
            expectIae(huge, "huge");
            assertThrows(IllegalArgumentException.class,
                    () -> ImageTags.imageIdsInOrder("<|image_99999999999999999999999|>"));
            count("tags:huge-IAE");
        });
    }

    @Test
    void emptyPrompt() {
        assertArrayEquals(new int[] {tok.bosId()}, tok.encode(""));
        assertArrayEquals(new int[0], tok.encode("", false));
        assertArrayEquals(new int[] {tok.bosId()}, tok.encodeMultimodal("", new int[0]));
        expectIae(assertThrows(IllegalArgumentException.class, () -> tok.encodeMultimodal("", new int[] {5})),
                "empty prompt with an image");
        assertEquals("", tok.decode(new int[0], true));
        assertEquals("", tok.streamingDecoder(false).finish());
        count("empty:ok");
    }

    private static String replaceLoneSurrogates(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else if (Character.isSurrogate(c)) {
                sb.append('\uFFFD');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
