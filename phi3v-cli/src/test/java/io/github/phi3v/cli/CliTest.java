package io.github.phi3v.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.phi3v.testsupport.GoldenTensors;
import io.github.phi3v.testsupport.SharedData;
import picocli.CommandLine;

/** The phi3v commands, run in-process: exit codes, messages, and golden conformance of inspect/generate. */
class CliTest {

    private static final double TOL = 1e-4;

    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {
    }

    static Result runWithInput(String stdin, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Phi3vCli.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    static Result run(String... args) {
        return runWithInput("", args);
    }

    private static String image(String name) {
        return SharedData.tinyA().resolve("images/" + name).toString();
    }

    private static String modelF32() {
        return SharedData.tinyA().resolve("model-f32").toString();
    }

    @Test
    void askTinyRandomStreamsTextAndExitsZero() {
        Result r = run("ask", "--model", "tiny-random", "--image", image("a01_rgb_500x300.png"), "--max-new-tokens",
                "16", "hi");
        assertEquals(0, r.code(), r.err());
        assertFalse(r.out().isBlank(), "an answer was streamed");
        assertTrue(r.err().contains("MEANINGLESS"), "tiny-random banner: " + r.err());
    }

    @Test
    void askJsonPrintsTextFinishReasonAndUsageAsOneObject() throws Exception {
        Result r = run("ask", "--model", "tiny-random", "--image", image("a01_rgb_500x300.png"), "--max-new-tokens",
                "4", "--ignore-eos", "--json", "hi");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.out().strip().lines().count(), "one line on stdout, nothing streamed: " + r.out());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(List.of("text", "finish_reason", "usage"), fieldNames(j));
        assertTrue(j.get("text").isTextual() && !j.get("text").asText().isEmpty(), r.out());
        assertEquals("length", j.get("finish_reason").asText());
        JsonNode u = j.get("usage");
        assertEquals(4, u.get("completion_tokens").asInt());
        assertTrue(u.get("image_tokens").asInt() > 0, r.out());
        assertTrue(u.get("prompt_tokens").asInt() > u.get("image_tokens").asInt(), r.out());
        assertTrue(u.get("prefill_ms").asDouble() > 0 && u.get("decode_ms").asDouble() > 0, r.out());
    }

    @Test
    void askDashReadsTheQuestionFromStandardInput() throws Exception {
        String q = "What colours and shapes does this picture show, from left to right?";
        Result piped = runWithInput(q + "\n", "ask", "--model", "tiny-random", "--max-new-tokens", "1", "--json", "-");
        Result given = run("ask", "--model", "tiny-random", "--max-new-tokens", "1", "--json", q);
        Result shortQ = run("ask", "--model", "tiny-random", "--max-new-tokens", "1", "--json", "hi");
        assertEquals(0, piped.code(), piped.err());
        ObjectMapper m = new ObjectMapper();
        int pipedTokens = m.readTree(piped.out()).get("usage").get("prompt_tokens").asInt();
        assertEquals(m.readTree(given.out()).get("usage").get("prompt_tokens").asInt(), pipedTokens,
                "the piped question is the same prompt as the argument");
        assertTrue(pipedTokens > m.readTree(shortQ.out()).get("usage").get("prompt_tokens").asInt() + 5,
                "the piped question is not the literal '-'");
    }

    @Test
    void askDashWithEmptyInputIsAUsageError() {
        Result r = runWithInput("  \n", "ask", "--model", "tiny-random", "-");
        assertEquals(2, r.code(), r.err());
        assertEquals("phi3v ask: QUESTION is '-' but standard input is empty: expected the question there "
                + "(see 'phi3v ask --help')", r.err().strip());
        assertEquals("", r.out());
    }

    private static List<String> fieldNames(JsonNode j) {
        List<String> names = new java.util.ArrayList<>();
        j.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void missingImageIsAOneLineErrorWithExitOne() {
        Result r = run("ask", "--model", "tiny-random", "--image", "/no/such/image.png", "hi");
        assertEquals(1, r.code());
        assertEquals("phi3v ask: error: image not found: /no/such/image.png", r.err().strip());
        assertEquals("", r.out());
    }

    @Test
    void usageErrorsExitTwoWithOneLine() {
        Result r = run("ask", "--image", "x.png", "hi");
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("--model"), r.err());
        assertEquals(2, run("inspect", "--model", "x", "--out", "o.safetensors").code(), "--prompt or --input-ids");
        assertEquals(2, run("inspect", "--model", "x", "--prompt", "a", "--input-ids", "[1]", "--out", "o").code());
        assertEquals(2, run("frobnicate").code());
        assertEquals(2, run().code());
    }

    /** {@code quantize} writes a pre-quantized folder that {@code ask} then loads as its model. */
    @Test
    void quantizeWritesAFolderThatLoads() {
        Path q4 = tmp.resolve("int4");
        Result r = run("quantize", "--model", modelF32(), "--to", "int4", "--out", q4.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(q4.toString(), r.out().strip());
        assertTrue(r.err().contains("decoder linears quantized to int4"), r.err());
        Result asked = run("ask", "--model", q4.toString(), "--max-new-tokens", "2", "hello");
        assertEquals(0, asked.code(), asked.err());
        assertEquals(2, run("quantize", "--model", modelF32(), "--to", "none", "--out", tmp.resolve("x").toString())
                .code());
        assertEquals(1, run("quantize", "--model", modelF32(), "--to", "int8", "--out", q4.toString()).code(),
                "a folder that already holds a model");
    }

    @Test
    void helpEverywhereExitsZero() {
        for (String cmd : new String[] {"ask", "chat", "download", "inspect", "generate", "bench", "serve",
            "serve-bench", "quantize"}) {
            Result r = run(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().contains("Usage: phi3v " + cmd), r.out());
        }
        assertTrue(run("--help").out().contains("inspect"));
    }

    /**
     * {@code --prompt} and {@code --input-ids} (an exclusive group inside the PromptArgs mixin) are each
     * described once in the help of the commands that use them: once in the option list, once in the
     * synopsis, which shows the exclusion.
     */
    @Test
    void promptOptionsAreListedOnceInTheHelp() {
        for (String cmd : new String[] {"generate", "inspect"}) {
            String help = run(cmd, "--help").out();
            for (String option : new String[] {"--prompt=TEXT", "--input-ids=JSON|FILE"}) {
                // An option's entry in an option list: the option, then its description after two or more
                // spaces. The synopsis may wrap so that a line starts with the option too ("--input-ids=
                // JSON|FILE)"): that line is the usage, not a second description.
                Pattern entry = Pattern.compile("^\\s+" + Pattern.quote(option) + "\\s{2,}\\S.*");
                long described = help.lines().filter(l -> entry.matcher(l).matches()).count();
                assertEquals(1, described, cmd + " --help describes " + option + " " + described + " times:\n" + help);
            }
            assertTrue(help.replaceAll("\\s+", " ").contains("(--prompt=TEXT | --input-ids=JSON|FILE)"),
                    "synopsis shows the exclusion:\n" + help);
            assertTrue(help.contains("Model input (exactly one of):"), help);
        }
        Result both = run("generate", "--model", "x", "--prompt", "a", "--input-ids", "[1]");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("mutually exclusive"), both.err());
        Result none = run("generate", "--model", "x");
        assertEquals(2, none.code());
        assertTrue(none.err().contains("--prompt=TEXT | --input-ids=JSON|FILE"), none.err());
    }

    @Test
    void runtimeErrorsAreOneLineUnlessVerbose() {
        Result r = run("generate", "--model", tmp.resolve("nope").toString(), "--input-ids", "[1, 2]");
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("does not exist"), r.err());
        Result v = run("generate", "--verbose", "--model", tmp.resolve("nope").toString(), "--input-ids", "[1, 2]");
        assertEquals(1, v.code());
        assertTrue(v.err().contains("\tat "), "stack trace with --verbose: " + v.err());
    }

    @Test
    void inspectWritesTheGoldenQuantitiesOfTextCase() {
        GoldenTensors gold = GoldenTensors.read(SharedData.tinyA().resolve("forward/d_text_short.safetensors"));
        Path out = tmp.resolve("d.safetensors");
        Result r = run("inspect", "--model", modelF32(), "--input-ids", json(gold.longs("input_ids")), "--out",
                out.toString());
        assertEquals(0, r.code(), r.err());
        GoldenTensors ours = GoldenTensors.read(out);
        String report = compare(gold, ours, "logits_last8", "final_norm_last8", "inputs_embeds", "layer_0_output",
                "layer_1_output", "logits_max", "logits_logsumexp");
        assertArrayEquals(gold.longs("logits_argmax"), ours.longs("logits_argmax"));
        assertArrayEquals(gold.longs("input_ids"), ours.longs("input_ids"));
        System.out.println("[CliTest] inspect d_text_short max abs err: " + report);
    }

    @Test
    void inspectWithAnImageWritesTheGoldenImageQuantities() {
        GoldenTensors gold = GoldenTensors.read(SharedData.tinyA().resolve("forward/a_one_image.safetensors"));
        Path ids = tmp.resolve("ids.json");
        Path out = tmp.resolve("a.safetensors");
        try {
            java.nio.file.Files.writeString(ids, json(gold.longs("input_ids")));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Result r = run("inspect", "--model", modelF32(), "--image", image("a01_rgb_500x300.png"), "--input-ids",
                ids.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        GoldenTensors ours = GoldenTensors.read(out);
        String report = compare(gold, ours, "logits_last8", "final_norm_last8", "inputs_embeds", "layer_0_output",
                "layer_1_output", "hd_merged", "clip_features_layer_m2_first3", "pixel_values_global", "logits_max",
                "logits_logsumexp");
        assertArrayEquals(gold.longs("image_sizes"), ours.longs("image_sizes"));
        assertArrayEquals(new long[] {2353}, ours.longs("num_img_tokens"));
        assertArrayEquals(new long[] {1, 17, 3, 336, 336}, ours.shape("pixel_values"));
        float[] gap = gold.floats("logits_top2_gap");
        long[] ga = gold.longs("logits_argmax");
        long[] oa = ours.longs("logits_argmax");
        for (int i = 0; i < ga.length; i++) {
            if (gap[i] > 1e-3) {
                assertEquals(ga[i], oa[i], "argmax at " + i);
            }
        }
        System.out.println("[CliTest] inspect a_one_image max abs err: " + report);
    }

    @Test
    void generateReproducesTheGoldenGreedyIds() throws Exception {
        GoldenTensors gold = GoldenTensors.read(SharedData.tinyA().resolve("generation/d_text_short.safetensors"));
        Result r = run("generate", "--model", modelF32(), "--input-ids", json(gold.longs("prompt_input_ids")),
                "--max-new-tokens", "24", "--greedy", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        long[] ids = new long[j.get("new_ids").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = j.get("new_ids").get(i).asLong();
        }
        assertArrayEquals(gold.longs("nocache_pristine_new_ids"), ids);
        assertEquals("LENGTH", j.get("finish_reason").asText());

        Result plain = run("generate", "--model", modelF32(), "--input-ids", json(gold.longs("prompt_input_ids")),
                "--max-new-tokens", "3");
        assertEquals(0, plain.code(), plain.err());
        assertTrue(plain.out().startsWith("ids: [" + gold.longs("nocache_pristine_new_ids")[0] + ", "), plain.out());
        assertTrue(plain.out().contains("\ntext: "), plain.out());
    }

    @Test
    void generateFromAPromptWithAnImageUsesTheProcessorAndTokenizer() throws Exception {
        Result r = run("generate", "--model", modelF32(), "--image", image("a01_rgb_500x300.png"), "--num-crops", "1",
                "--prompt", "<|user|>\n<|image_1|>\nWhat is shown?<|end|>\n<|assistant|>\n", "--max-new-tokens", "2",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(313, j.get("usage").get("image_tokens").asInt(), r.out());   // 1 crop: (1 + 1) * 144 + 1 + 2 * 12
        assertEquals(2, j.get("new_ids").size(), r.out());
        Result mismatch = run("generate", "--model", modelF32(), "--input-ids", "[1, -1, -1, 2]", "--max-new-tokens",
                "2");
        assertEquals(1, mismatch.code());
        assertTrue(mismatch.err().contains("image"), mismatch.err());
    }

    @Test
    void chatIsMultiTurnWithImagesFromStdin() {
        String stdin = "/image " + image("a02_rgb_336x336.png") + "\nhello\n/bogus\nand now?\n/exit\n";
        Result r = runWithInput(stdin, "chat", "--model", "tiny-random", "--num-crops", "1", "--max-new-tokens", "5");
        assertEquals(0, r.code(), r.err());
        assertEquals(2, r.out().strip().lines().count(), "two answers: " + r.out());
        assertTrue(r.err().contains("[image 1 added"), r.err());
        assertTrue(r.err().contains("unknown command /bogus"), r.err());
    }

    @Test
    void chatSetsTheSystemMessageAndSavesTheConversation() throws Exception {
        Path file = tmp.resolve("conversation.json");
        String stdin = "/system Answer briefly.\nhello\n/save " + file + "\n/exit\n";
        Result r = runWithInput(stdin, "chat", "--model", "tiny-random", "--max-new-tokens", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("[system message set]") && r.err().contains("[3 messages saved to"), r.err());
        JsonNode messages = new ObjectMapper().readTree(file.toFile());
        assertEquals(3, messages.size(), messages.toString());
        assertEquals("system", messages.get(0).get("role").asText());
        assertEquals("Answer briefly.", messages.get(0).get("content").asText());
        assertEquals("user", messages.get(1).get("role").asText());
        assertEquals("hello", messages.get(1).get("content").asText());
        assertEquals("assistant", messages.get(2).get("role").asText());
    }

    @Test
    void badDeviceAndQuantizationAreOneLineUsageErrorsOfAskChatAndServeBeforeLoading() {
        for (String cmd : new String[] {"ask", "chat", "serve"}) {
            // ask needs its question; chat would read stdin, serve would bind: all fail before that
            String[] tail = cmd.equals("ask") ? new String[] {"hi"} : new String[0];
            Result device = run(concat(new String[] {cmd, "--model", "tiny-random", "--device", "tpu"}, tail));
            assertEquals(Phi3vCli.EXIT_USAGE, device.code(), device.err());
            assertEquals("phi3v " + cmd + ": error: unknown device 'tpu': expected cpu or cuda", device.err().strip(),
                    "one line, and no tiny-random banner: nothing was built");
            Result quantize = run(concat(new String[] {cmd, "--model", "tiny-random", "--quantize", "int3"}, tail));
            assertEquals(Phi3vCli.EXIT_USAGE, quantize.code(), quantize.err());
            assertEquals("phi3v " + cmd + ": error: unknown quantization 'int3': expected none, int8 or int4",
                    quantize.err().strip());
            Result int8Cuda = run(concat(new String[] {cmd, "--model", "tiny-random", "--quantize", "int8", "--device",
                "cuda"}, tail));
            assertEquals(Phi3vCli.EXIT_USAGE, int8Cuda.code(), int8Cuda.err());
            assertEquals("phi3v " + cmd + ": error: --quantize int8 runs on the CPU only; use --device cpu or leave out"
                    + " --quantize", int8Cuda.err().strip());
            assertEquals("", device.out() + quantize.out() + int8Cuda.out());
        }
        // serve's --warm-up is an option: with it the same one-line device error, not picocli's unknown option.
        Result warm = run("serve", "--warm-up", "--model", "tiny-random", "--device", "tpu");
        assertEquals(Phi3vCli.EXIT_USAGE, warm.code(), warm.err());
        assertEquals("phi3v serve: error: unknown device 'tpu': expected cpu or cuda", warm.err().strip());
    }

    @Test
    void generationOptionsOutOfRangeAreUsageErrorsBeforeLoading() {
        Result minP = run("ask", "--model", "tiny-random", "--min-p", "2", "hi");
        assertEquals(Phi3vCli.EXIT_USAGE, minP.code(), minP.err());
        assertEquals("phi3v ask: error: minP must be in [0, 1] (0 disables min-p), got 2.0", minP.err().strip());
        Result penalty = run("chat", "--model", "tiny-random", "--repetition-penalty", "0");
        assertEquals(Phi3vCli.EXIT_USAGE, penalty.code(), penalty.err());
        assertEquals(1, penalty.err().strip().lines().count(), penalty.err());
        assertTrue(penalty.err().startsWith("phi3v chat: error: repetitionPenalty must be a finite value > 0"),
                penalty.err());
    }

    @Test
    void cudaWithoutAGpuIsAOneLineRuntimeError() {
        Result r = run("ask", "--model", "tiny-random", "--device", "cuda", "--max-new-tokens", "2", "hi");
        if (org.bytedeco.pytorch.global.torch.cuda_is_available()) {   // only with the gpu profile on a GPU host
            assertEquals(0, r.code(), r.err());
            return;
        }
        assertEquals(Phi3vCli.EXIT_ERROR, r.code(), r.err());
        List<String> lines = r.err().strip().lines().toList();
        assertTrue(lines.get(lines.size() - 1).startsWith("phi3v ask: error: device CUDA requested, but libtorch sees "
                + "no CUDA device"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace without --verbose: " + r.err());
    }

    @Test
    void quantizeReachesTheLoadAndVerboseShowsTheLibrarysLoadSummary() {
        Result quiet = run("ask", "--model", "tiny-random", "--quantize", "int8", "--max-new-tokens", "2", "hi");
        assertEquals(0, quiet.code(), quiet.err());
        assertFalse(quiet.err().contains("[INFO]"), "without --verbose the CLI shows warnings only: " + quiet.err());
        Result verbose = run("ask", "--verbose", "--model", "tiny-random", "--quantize", "int8",
                "--max-new-tokens", "2", "hi");
        assertEquals(0, verbose.code(), verbose.err());
        List<String> summaries = verbose.err().lines().filter(l -> l.startsWith("[INFO] loaded ")).toList();
        assertEquals(1, summaries.size(), "one load summary, one line: " + verbose.err());
        assertTrue(summaries.get(0).contains("quantization INT8") && summaries.get(0).contains(", CPU, "),
                summaries.get(0));
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void samplingOptionsReachTheGenerationConfig() {
        SamplingArgs a = CommandLine.populateCommand(new SamplingArgs(), "--stop", "END", "--stop", "###",
                "--min-p", "0.05", "--repetition-penalty", "1.3", "--max-new-tokens", "7");
        var c = a.config();
        assertEquals(List.of("END", "###"), c.stopStrings());
        assertEquals(0.05f, c.minP());
        assertEquals(1.3f, c.repetitionPenalty());
        assertTrue(c.doSample(), "min-p implies sampling");
        assertEquals(7, c.maxNewTokens());
        var greedy = CommandLine.populateCommand(new SamplingArgs(), "--repetition-penalty", "1.1").config();
        assertFalse(greedy.doSample(), "a repetition penalty alone keeps greedy decoding");
    }

    private static String json(long[] ids) {
        return Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(", ", "[", "]"));
    }

    /** Max abs error per tensor, asserting each is within {@link #TOL} and the shapes agree. */
    private static String compare(GoldenTensors gold, GoldenTensors ours, String... names) {
        StringBuilder sb = new StringBuilder();
        for (String n : names) {
            assertArrayEquals(gold.shape(n), ours.shape(n), n + " shape");
            float[] g = gold.floats(n);
            float[] o = ours.floats(n);
            double worst = 0;
            for (int i = 0; i < g.length; i++) {
                worst = Math.max(worst, Math.abs(g[i] - o[i]));
            }
            sb.append(String.format(" %s %.2e", n, worst));
            assertTrue(worst <= TOL, n + ": max abs err " + worst + " > " + TOL);
        }
        return sb.toString();
    }
}
